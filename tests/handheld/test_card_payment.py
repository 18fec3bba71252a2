"""One-stop card payment on the handheld, without Kivy: what the assistant sees and what is sent."""

from __future__ import annotations

import uuid
from dataclasses import replace

from client_common.connection import ConnectionFeed, ConnectionState
from client_common.i18n import translator
from handheld_app.presenters.card_payment import CardPayment, read_instrument
from handheld_app.presenters.ports import CardOutcome
from tests.handheld.fakes import FakeBook, FakeOneStop
from tests.handheld.test_tickets_and_settings import issue

APPROVED = "4111111111111111"
DECLINED = "4000000000009995"
UNKNOWN = "4000000000000259"
WALLET = "280000000000000000"


def online() -> ConnectionFeed:
    feed = ConnectionFeed()
    feed.update(ConnectionState(link="online"))
    return feed


def ready(scripts: dict[str, list[CardOutcome]] | None = None) -> tuple[CardPayment, FakeBook, FakeOneStop, uuid.UUID]:
    book = FakeBook()
    (tid,) = issue(book)
    book.local[tid] = replace(book.local[tid], synced=True)
    terminal = FakeOneStop(scripts)
    pay = CardPayment(terminal, book, online())
    pay.open(tid)
    return pay, book, terminal, tid


def test_card_numbers_and_wallet_codes_are_told_apart_and_checked() -> None:
    assert read_instrument("4111 1111 1111 1111\r\n") == ("card", APPROVED)
    assert read_instrument(WALLET) == ("wallet", WALLET)
    assert read_instrument("134567890123456789") == ("wallet", "134567890123456789")  # WeChat Pay
    assert read_instrument("4111111111111112") is None  # fails the check digit
    assert read_instrument("hello") is None
    assert read_instrument("1234") is None


async def test_the_amount_is_shown_and_an_approved_card_pays_and_allows_release() -> None:
    pay, book, terminal, tid = ready()
    assert (pay.title, pay.amount) == ("SH01-C-APL-H1-000001", "To pay ¥5,999.00")
    assert pay.can_charge
    assert pay.can_enter
    assert not pay.can_release
    outcome = await pay.charge(APPROVED + "\n")  # a scanner types the number and Enter
    assert outcome is not None
    assert outcome.state == "paid"
    assert pay.phase == "paid"
    assert pay.can_release
    assert not pay.can_charge
    assert pay.message == "Paid ¥5,999.00 · **** 1111 · receipt R-1. Release the goods."
    ((attempt, token),) = terminal.sends
    assert (attempt.ticket_id, attempt.kind, attempt.amount, attempt.last4, token) == (
        tid,
        "card",
        599900,
        "1111",
        APPROVED,
    )
    assert terminal.kept == {}  # the attempt ended
    assert pay.release()
    assert book.released == [(tid, None)]
    assert pay.message == "Goods released for SH01-C-APL-H1-000001."


async def test_a_decline_says_why_and_another_card_is_a_new_payment() -> None:
    pay, _book, terminal, _tid = ready({DECLINED: [CardOutcome(state="declined", reason="insufficient_funds")]})
    outcome = await pay.charge(DECLINED)
    assert outcome is not None
    assert outcome.state == "declined"
    assert pay.message == "Declined: insufficient funds. Ask for another card or payment code."
    assert pay.tone == "error"
    assert pay.phase == "entry"
    assert pay.can_charge
    assert not pay.can_check_again
    await pay.charge(WALLET)
    assert pay.phase == "paid"
    first, second = (a for a, _ in terminal.sends)
    assert second.kind == "wallet"
    assert first.tender_id != second.tender_id
    assert first.checkout_id != second.checkout_id
    translator.set_language("zh")
    await pay.charge(DECLINED)  # no effect: already paid
    assert len(terminal.sends) == 2


async def test_an_unknown_outcome_is_checked_again_with_the_same_ids_and_charges_once() -> None:
    pay, _book, terminal, tid = ready(
        {
            UNKNOWN: [
                CardOutcome(state="unknown"),
                CardOutcome(state="timeout"),
                CardOutcome(state="paid", masked="**** 0259"),
            ]
        }
    )
    await pay.charge(UNKNOWN)
    assert pay.phase == "pending"
    assert pay.can_check_again
    assert not pay.can_charge
    assert not pay.can_enter
    assert pay.message.startswith("The bank has not answered yet. Tap Check again")
    assert terminal.kept[tid] == pay.attempt  # kept on disk before the first send
    await pay.charge(APPROVED)  # a second card is not charged while the first has no answer
    assert len(terminal.sends) == 1
    await pay.check_again()
    assert pay.message.startswith("No answer in time; the payment may have gone through.")
    await pay.check_again()
    assert pay.phase == "paid"
    attempts = [a for a, _ in terminal.sends]
    assert len(attempts) == 3
    assert len({(a.checkout_id, a.tender_id) for a in attempts}) == 1
    assert list(terminal.charged.values()) == [599900]
    assert tid not in terminal.kept


async def test_after_a_restart_the_open_attempt_asks_for_the_same_card_and_checks_again() -> None:
    pay, book, terminal, tid = ready({UNKNOWN: [CardOutcome(state="unknown"), CardOutcome(state="paid")]})
    await pay.charge(UNKNOWN)
    first = pay.attempt
    again = CardPayment(terminal, book, online())  # the app started again: the token is gone, the ids are not
    again.open(tid)
    assert again.phase == "pending"
    assert again.can_enter
    assert again.attempt == first
    assert again.notice == "Present the same card (ending 0259) again and tap Check again."
    assert await again.check_again(APPROVED) is None  # another card does not replace an open attempt
    assert len(terminal.sends) == 1
    await again.check_again(UNKNOWN)
    assert again.phase == "paid"
    assert terminal.sends[-1][0] == first


async def test_offline_the_payment_is_disabled_with_the_reason() -> None:
    book = FakeBook()
    (tid,) = issue(book)
    feed = ConnectionFeed()
    feed.update(ConnectionState(link="offline"))
    pay = CardPayment(FakeOneStop(), book, feed)
    redraws: list[int] = []
    pay.observe(lambda: redraws.append(1))
    pay.open(tid)
    assert not pay.can_charge
    assert pay.notice.startswith("Card payment needs the server and this handheld is offline.")
    assert await pay.charge(APPROVED) is None
    feed.update(ConnectionState(link="online"))
    assert redraws[-1:] == [1]
    assert pay.notice == "This ticket has not reached the server yet; wait a moment, then charge."
    book.set_state(tid, "issued")  # the server acknowledged it
    assert pay.can_charge
    assert pay.notice.startswith("Scan or type the card number")


async def test_a_dropped_connection_keeps_the_attempt_until_online_again() -> None:
    feed = online()
    book = FakeBook()
    (tid,) = issue(book)
    book.set_state(tid, "issued")
    terminal = FakeOneStop({APPROVED: [CardOutcome(state="offline"), CardOutcome(state="paid")]})
    pay = CardPayment(terminal, book, feed)
    pay.open(tid)
    await pay.charge(APPROVED)
    assert pay.message.startswith("The connection dropped during the payment.")
    feed.update(ConnectionState(link="offline"))
    assert not pay.can_check_again
    assert await pay.check_again() is None
    feed.update(ConnectionState(link="online"))
    await pay.check_again()
    assert pay.phase == "paid"
    assert len({a.tender_id for a, _ in terminal.sends}) == 1


async def test_a_refusal_shows_the_servers_sentence_and_a_bad_number_is_never_sent() -> None:
    message = "Ticket SH01-C-APL-H1-000001 is paid already."
    pay, _book, terminal, _tid = ready({APPROVED: [CardOutcome(state="refused", message=message)]})
    await pay.charge("4111111111111112")
    assert pay.message == "This is not a valid card number or payment code; check it and enter it again."
    assert terminal.sends == []
    await pay.charge(APPROVED)
    assert (pay.message, pay.tone, pay.phase) == (message, "error", "entry")


def test_a_paid_or_voided_ticket_cannot_be_charged() -> None:
    pay, book, _terminal, tid = ready()
    book.set_state(tid, "voided")
    assert not pay.can_charge
    assert pay.notice == "SH01-C-APL-H1-000001 is Voided; only an issued ticket can be paid here."
    book.set_state(tid, "paid")
    pay.open(tid)
    assert pay.phase == "paid"
    assert pay.can_release


def test_chinese_texts() -> None:
    translator.set_language("zh")
    pay, _book, _terminal, _tid = ready()
    assert pay.amount == "应付 ¥5,999.00"
    assert pay.notice.startswith("扫描或输入银行卡号")
