from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from client_common import prefs
from client_common.connection import ConnectionState, DeadLetter, describe
from client_common.i18n import LANGUAGES, translator
from client_common.money_text import parse_yuan
from client_common.presenters.enrollment import EnrollmentPresenter
from client_common.presenters.sign_in import SignInPresenter
from handheld_app.presenters.issued import issued_view
from handheld_app.presenters.my_tickets import MyTickets
from handheld_app.presenters.settings import SettingsPresenter
from handheld_app.presenters.ticket_builder import TicketBuilder
from tests.handheld.fakes import CONTEXT, PRODUCTS, STAFF, FakeAuth, FakeBook, FakeEnroller, FakeVerifier


def issue(book: FakeBook, n: int = 1) -> list[uuid.UUID]:
    b = TicketBuilder(book, FakeAuth(), CONTEXT)
    b.staff = STAFF[("S001", "1111")]
    ids = []
    for _ in range(n):
        b.add(PRODUCTS[0])
        t = b.issue()
        assert t is not None
        ids.append(t.id)
    return ids


def test_my_tickets_follow_live_status_from_the_server() -> None:
    book = FakeBook()
    mine = MyTickets(book, FakeVerifier())
    redraws: list[int] = []
    mine.observe(lambda: redraws.append(1))
    (tid,) = issue(book)
    assert [(r.state, r.can_release, r.can_void) for r in mine.rows] == [("Issued", False, True)]
    assert "not sent yet" in mine.rows[0].detail
    book.set_state(tid, "paid")  # a server event
    assert [(r.state, r.can_release, r.can_void) for r in mine.rows] == [("Paid", True, False)]
    assert "not sent yet" not in mine.rows[0].detail
    assert redraws


def test_goods_are_released_only_when_paid() -> None:
    book = FakeBook()
    mine = MyTickets(book, FakeVerifier())
    (tid,) = issue(book)
    assert not mine.release(tid)
    assert mine.message == "SH01-C-APL-H1-000001 is not paid yet; goods are released only after payment."
    assert book.released == []
    book.set_state(tid, "paid")
    assert mine.release(tid)
    assert book.released == [(tid, None)]
    assert mine.rows[0].state == "Released"


def test_void_only_an_issued_ticket() -> None:
    book = FakeBook()
    mine = MyTickets(book, FakeVerifier())
    a, b = issue(book, 2)
    book.set_state(b, "paid")
    assert not mine.void(b)
    assert "only an issued ticket" in mine.message
    assert mine.void(a, "customer left")
    assert book.voided == [a]


def test_release_offline_by_scanning_the_customers_signed_receipt() -> None:
    book = FakeBook()
    mine = MyTickets(book, FakeVerifier())
    a, b, c = issue(book, 3)
    released = mine.release_by_receipt(f"RCPT:{a},{c},{uuid.uuid4()}\r\n")
    assert {t.id for t in released} == {a, c}
    assert {tid for tid, qr in book.released} == {a, c}
    assert all(qr is not None and qr.startswith("RCPT:") for _, qr in book.released)
    assert "Goods released for" in mine.message
    # The same receipt again releases nothing more.
    assert mine.release_by_receipt(f"RCPT:{a},{c}") == []
    assert mine.message == "This receipt pays none of this handheld's open tickets."
    assert {r.ticket.id for r in mine.rows if r.ticket.state == "issued"} == {b}


def test_a_receipt_that_fails_verification_releases_nothing() -> None:
    book = FakeBook()
    mine = MyTickets(book, FakeVerifier())
    issue(book)
    assert mine.release_by_receipt("forged") == []
    assert mine.message == "This receipt cannot be trusted: the signature does not match any till of this store"
    assert book.released == []


def test_issued_view_shows_number_total_and_offline_hint() -> None:
    book = FakeBook()
    (tid,) = issue(book)
    view = issued_view(book.local[tid], online=False)
    assert view.title == "Ticket SH01-C-APL-H1-000001"
    assert view.total == "To pay ¥5,999.00"
    assert "sent when the network is back" in view.hint
    assert view.qr == book.local[tid].qr


def test_language_switch_changes_every_presenter_text_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "prefs.json"
    prefs.save(path, prefs.Prefs(language="en"))
    settings = SettingsPresenter(path)
    heard: list[str] = []
    unsubscribe = translator.subscribe(heard.append)
    book = FakeBook()
    mine = MyTickets(book, FakeVerifier())
    issue(book)
    try:
        assert mine.rows[0].state == "Issued"
        settings.set_language("zh")
        assert heard == ["zh"]
        mine.refresh()
        assert mine.rows[0].state == "已开单"
        assert issued_view(book.local[mine.rows[0].ticket.id], online=True).total == "应付 ¥5,999.00"
        assert prefs.load(path).language == "zh"
        assert SettingsPresenter(path).prefs.language == "zh"
    finally:
        unsubscribe()
    with pytest.raises(ValueError):
        settings.set_language("fr")


def test_every_text_exists_in_both_languages() -> None:
    zh, en = translator.keys("zh"), translator.keys("en")
    assert zh == en
    for key in en:
        assert translator.tr(key, "zh") != key
    assert set(LANGUAGES) == {"zh", "en"}


def test_a_fresh_device_starts_in_chinese(tmp_path: Path) -> None:
    SettingsPresenter(tmp_path / "none.json")
    assert translator.language == "zh"


def test_server_address_setting(tmp_path: Path) -> None:
    prefs.save(tmp_path / "p.json", prefs.Prefs(language="en"))
    settings = SettingsPresenter(tmp_path / "p.json")
    assert not settings.save_server("not a url/with path")
    assert settings.message.startswith("The server address must look like")
    assert settings.save_server("192.168.1.10:8000/")
    assert settings.prefs.server_url == "http://192.168.1.10:8000"
    assert not settings.save_server("http://192.168.1.10:8000")
    assert settings.message == "Saved."


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("https://pos.example:443", "https://pos.example:443"),
        ("localhost", "http://localhost"),
        ("ftp://x", None),
        ("http://:80", None),
        ("http://host:99999", None),
        ("", None),
    ],
)
def test_normalise_server_url(text: str, url: str | None) -> None:
    assert prefs.normalise_server_url(text) == url


@pytest.mark.parametrize(
    ("text", "fen"),
    [("12", 1200), ("12.5", 1250), ("¥1,299.05", 129905), (".5", 50), ("0", 0), ("1.234", None), ("1e3", None)],
)
def test_parse_yuan_is_exact(text: str, fen: int | None) -> None:
    assert parse_yuan(text) == fen


async def test_enrollment_cleans_the_code_and_keeps_the_server() -> None:
    enroller = FakeEnroller()
    p = EnrollmentPresenter(enroller, "http://127.0.0.1:8000")
    assert not p.enrolled
    assert not await p.submit("127.0.0.1:8000", "  ")
    assert p.error == "Enter the enrollment code a manager gave you."
    assert not await p.submit("127.0.0.1:8000", "WRONG")
    assert p.error == "This enrollment code is not valid; ask a manager for a new one."
    assert await p.submit("10.0.0.5:8000", "abcd-1234")
    assert enroller.seen[-1] == ("http://10.0.0.5:8000", "ABCD1234")
    assert p.enrolled
    assert p.server_url == "http://10.0.0.5:8000"
    # A device that already holds an identity starts enrolled.
    assert EnrollmentPresenter(enroller, "x").enrolled


async def test_sign_in_with_staff_number_and_pin() -> None:
    auth = FakeAuth()
    p = SignInPresenter(auth)
    assert not await p.submit("S001", "")
    assert p.error == "Enter your staff number and PIN."
    assert not await p.submit("S001", "9999")
    assert p.error == "Staff number or PIN is wrong; try again."
    auth.offline = True
    assert not await p.submit("S001", "1111")
    assert "cannot be reached" in p.error
    auth.offline = False
    assert await p.submit(" s001 ", "1111")
    assert p.greeting == "Signed in: 王芳 Wang Fang"
    p.sign_out()
    assert p.session is None


def test_connection_bar_text_gives_the_servers_reason_and_what_to_do() -> None:
    dead = DeadLetter(uuid.uuid4(), "Ticket SH01-C-APL-H1-000007", "validation_failed", "Line 2 total is wrong.")
    other = DeadLetter(uuid.uuid4(), "Void SH01-C-APL-H1-000003", "something_new", "Refused.")
    text = describe(ConnectionState(link="offline", outbox=3, dead_letters=(dead, other)))
    assert text.status == "Offline – tickets are kept and sent later"
    assert text.outbox == "3 waiting to send"
    assert text.dead == "2 refused by the server"
    assert text.level == "error"
    assert text.details[0] == (
        "Ticket SH01-C-APL-H1-000007: Line 2 total is wrong. — "
        "Issue the ticket again with correct figures; void the refused one."
    )
    assert text.details[1].endswith("Show this to a supervisor; the other tickets keep sending.")
    ok = describe(ConnectionState(link="online"))
    assert (ok.status, ok.outbox, ok.dead, ok.level) == ("Online", "All sent", "", "ok")
    translator.set_language("zh")
    assert describe(ConnectionState(link="online", outbox=1)).outbox == "1 条待发送"


def test_the_bar_shows_the_catalog_load_with_its_progress() -> None:
    loading = ConnectionState(link="online", catalog_loaded=25_000, catalog_total=100_000)
    assert describe(loading).catalog == "Catalog 25,000 / 100,000"
    assert loading.catalog_progress == 0.25
    idle = ConnectionState(link="online")
    assert describe(idle).catalog == ""
    assert idle.catalog_progress is None
    translator.set_language("zh")
    assert describe(loading).catalog == "商品目录 25,000 / 100,000"


def test_a_ticket_the_server_refused_shows_as_refused_with_the_servers_reason() -> None:
    from dataclasses import replace

    book = FakeBook()
    mine = MyTickets(book, FakeVerifier())
    good, bad = issue(book, 2)
    reason = "The ticket total is 100 fen but its lines add up to 90 fen."
    book.local[bad] = replace(book.local[bad], refused_code="ticket_totals_mismatch", refused=reason)
    mine.refresh()
    row = next(r for r in mine.rows if r.ticket.id == bad)
    assert (row.state, row.state_key, row.can_void, row.can_pay) == ("Refused", "refused", False, False)
    assert row.detail.endswith(" · refused by the server: " + reason)
    assert "not sent yet" not in row.detail
    assert next(r for r in mine.rows if r.ticket.id == good).state == "Issued"
    translator.set_language("zh")
    mine.refresh()
    assert next(r for r in mine.rows if r.ticket.id == bad).state == "被拒绝"
