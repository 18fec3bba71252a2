"""The supervisor's exception queue at the till, and what the till says about a refused offline checkout
the server recorded as an exception (both languages)."""

from __future__ import annotations

import uuid

import msgspec

from cashier_app.adapters.exceptions import KINDS
from cashier_app.presenters.exceptions import ExceptionsPresenter, fix_sentence, recorded_exception, recorded_text
from cashier_app.presenters.ports import Approval
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.presenters.ports import Refused, Unreachable
from protocol.exceptions import MoneyMovement, StoreException
from tests.cashier.fakes import STORE, TILL, offline, online


def exception(number: int, kind: str = "ticket_voided", cash: int = 600_000) -> StoreException:
    return StoreException(
        id=uuid.UUID(int=number),
        number=number,
        store_id=STORE,
        kind=kind,  # type: ignore[arg-type]
        status="open",
        currency="CNY",
        taken={"cash": cash} if cash else {},
        fix=[MoneyMovement(action="refund_cash", amount=cash, tender="cash")] if cash else [],
        fix_text={"en": "server words", "zh": "服务器的话"},
        refusal_code="ticket_not_open",
        ticket_ids=[uuid.UUID(int=100 + number)],
        ticket_numbers=[f"SH01-C-APL-H1-{number:06d}"],
        created_at_ms=1_700_000_000_000,
        device_id=TILL,
        device_label="Till 1",
        staff_name="张伟",
    )


class FakeQueue:
    """Supervisor V001 with PIN 4444 may open the queue; everyone else is refused as the server would."""

    def __init__(self, items: list[StoreException]) -> None:
        self.items = {e.id: e for e in items}
        self.approvals: list[Approval] = []
        self.resolved: list[tuple[uuid.UUID, str]] = []
        self.down = False

    def _check(self, approval: Approval) -> None:
        self.approvals.append(approval)
        if self.down:
            raise Unreachable("no answer")
        if approval != Approval("V001", "4444"):
            raise Refused("exception_approval_refused", "That approval was refused.")

    async def open_exceptions(self, approval: Approval) -> list[StoreException]:
        self._check(approval)
        return sorted((e for e in self.items.values() if e.status == "open"), key=lambda e: -e.number)

    async def resolve(self, exception_id: uuid.UUID, note: str, approval: Approval) -> StoreException:
        self._check(approval)
        e = self.items[exception_id]
        if e.status == "resolved":
            raise Refused("exception_already_resolved", f"Exception {e.number} was already resolved by 刘洋.")
        self.resolved.append((exception_id, note))
        self.items[exception_id] = msgspec.structs.replace(e, status="resolved", resolution_note=note)
        return self.items[exception_id]


def presenter(
    items: list[StoreException], connection: ConnectionFeed | None = None
) -> tuple[ExceptionsPresenter, FakeQueue]:
    fake = FakeQueue(items)
    return ExceptionsPresenter(fake, connection or online()), fake


async def test_a_supervisor_opens_the_queue_and_reads_the_cash_to_give_back() -> None:
    p, fake = presenter([exception(1), exception(2, "paid_elsewhere", 19_900)])
    assert not await p.unlock("", "")
    assert p.message == "Enter a supervisor's staff number and PIN."
    assert not await p.unlock("v001", "1234")
    assert p.message == "That approval was refused."
    assert not p.unlocked
    assert await p.unlock(" v001 ", "4444")
    assert fake.approvals[-1] == Approval("V001", "4444"), "staff numbers are upper case"
    assert p.unlocked
    assert p.message == "2 to put right."
    assert [(r.title, r.fix, r.to_refund) for r in p.rows] == [
        ("No. 2 · Already paid at another till", "give ¥199.00 in cash back to the customer", 19_900),
        ("No. 1 · Ticket voided by the counter", "give ¥6,000.00 in cash back to the customer", 600_000),
    ]
    assert p.rows[1].where == "Till 1 / 张伟 · tickets SH01-C-APL-H1-000001"


async def test_resolve_needs_a_note_then_the_list_is_read_again() -> None:
    p, fake = presenter([exception(1), exception(2)])
    await p.unlock("V001", "4444")
    assert not await p.resolve(1, "  ")
    assert p.message == "Say what was done before resolving."
    assert fake.resolved == []
    assert await p.resolve(1, "refunded ¥6,000.00 cash")
    assert fake.resolved == [(uuid.UUID(int=1), "refunded ¥6,000.00 cash")]
    assert p.message == "Exception 1 resolved."
    assert [e.number for e in p.items] == [2]


async def test_someone_quicker_resolved_it_the_message_says_who_and_the_list_is_fresh() -> None:
    p, fake = presenter([exception(1), exception(2)])
    await p.unlock("V001", "4444")
    fake.items[uuid.UUID(int=2)] = msgspec.structs.replace(fake.items[uuid.UUID(int=2)], status="resolved")
    assert not await p.resolve(0, "refunded")  # the list still shows No. 2 first
    assert p.message == "Exception 2 was already resolved by 刘洋."
    assert [e.number for e in p.items] == [1]


async def test_offline_or_no_answer_and_leaving_forgets_the_pin() -> None:
    p, fake = presenter([exception(1)], offline())
    assert not await p.unlock("V001", "4444")
    assert p.message == "The exception queue needs the server; wait for the network."
    assert fake.approvals == []
    p, fake = presenter([exception(1)])
    fake.down = True
    assert not await p.unlock("V001", "4444")
    assert p.message.startswith("The server cannot be reached")
    fake.down = False
    assert await p.unlock("V001", "4444")
    p.lock()
    assert (p.unlocked, p.items, p.rows) == (False, [], [])
    assert not await p.resolve(0, "refunded")
    assert p.message == "Enter a supervisor's staff number and PIN."


async def test_an_empty_queue_says_so_in_chinese_too() -> None:
    p, _ = presenter([])
    translator.set_language("zh")
    assert await p.unlock("V001", "4444")
    assert p.message == "没有待处理的异常。"


def test_a_refused_offline_checkout_says_which_exception_and_the_refund() -> None:
    e = exception(7)
    refusal = Refused("ticket_not_open", "Ticket X is voided.", {"exception": msgspec.to_builtins(e)})
    assert recorded_exception(refusal.details) == e
    assert recorded_text(refusal) == (
        "Ticket voided by the counter · recorded for the manager as exception 7: "
        "give ¥6,000.00 in cash back to the customer"
    )
    translator.set_language("zh")
    assert recorded_text(refusal) == "小票已被专柜作废 · 已记录为第 7 号异常，交店长处理：退还顾客现金 ¥6,000.00"
    # A refusal without an exception (an online checkout, an old server) keeps the server's sentence.
    assert recorded_text(Refused("ticket_not_open", "Ticket X is voided.")) == "Ticket X is voided."
    assert recorded_text(Refused("x", "y", {"exception": {"id": "not a struct"}})) == "y"


def test_a_void_after_payment_has_no_money_to_give_back() -> None:
    e = exception(3, "void_after_payment", cash=0)
    text = recorded_text(Refused("ticket_wrong_state", "", {"exception": msgspec.to_builtins(e)}))
    assert text.endswith("no money to give back; check with the counter")


async def test_the_row_names_the_customers_paper_receipt_when_the_till_sent_its_number() -> None:
    with_receipt = msgspec.structs.replace(exception(1), offline_receipt_no="SH01-TA1B2C3-000007")
    p, _ = presenter([with_receipt, exception(2)])
    assert await p.unlock("V001", "4444")
    assert p.rows[1].where == "Till 1 / 张伟 · tickets SH01-C-APL-H1-000001 · customer's receipt SH01-TA1B2C3-000007"
    assert "receipt" not in p.rows[0].where, "an older till sent no receipt number"
    translator.set_language("zh")
    try:
        assert p.rows[1].where.endswith("顾客收据 SH01-TA1B2C3-000007")
    finally:
        translator.set_language("en")


async def test_a_member_attached_after_payment_is_shown_without_money_and_the_till_asks_for_its_kind() -> None:
    assert "attach_after_payment" in KINDS, "the till tells the server it can show the kind"
    p, _ = presenter([exception(4, "attach_after_payment", cash=0)])
    assert await p.unlock("V001", "4444")
    [row] = p.rows
    assert (row.title, row.to_refund) == ("No. 4 · Member attached after the customer paid", 0)
    translator.set_language("zh")
    assert p.rows[0].title == "第 4 号 · 顾客付款后才关联会员"


def test_a_card_to_give_back_on_the_terminal_reads_as_such_in_both_languages() -> None:
    e = msgspec.structs.replace(
        exception(7), fix=[MoneyMovement(action="refund_on_terminal", amount=12_300, tender="card")]
    )
    translator.set_language("en")
    assert "card terminal" in fix_sentence(e)
    assert "123.00" in fix_sentence(e)
    translator.set_language("zh")
    assert "刷卡机" in fix_sentence(e)
    translator.set_language("en")
