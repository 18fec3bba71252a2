"""Refunds: find the sale by receipt, choose lines, and a supervisor approves above the till's limit."""

from __future__ import annotations

from cashier_app.presenters.ports import RefundLine, SoldLine
from cashier_app.presenters.refunds import RefundPresenter, line_amount
from client_common.connection import ConnectionFeed
from tests.cashier.fakes import CHECKOUT, CONTEXT, SUPERVISOR, FakeAuth, FakeRefunds, offline, online, tid


def refunds(connection: ConnectionFeed | None = None) -> tuple[RefundPresenter, FakeRefunds]:
    fake = FakeRefunds()
    return RefundPresenter(fake, FakeAuth(), connection or online(), CONTEXT), fake


async def test_find_by_receipt_qr_or_number() -> None:
    p, _ = refunds()
    assert await p.find("FTR1:RECEIPT0001\n")
    assert p.message == "Receipt R-0001 · ¥11,007.00. Choose what comes back."
    assert [r.text for r in p.rows] == [
        "SH01-C-APL-H1-000001 · iPhone 16 ×1",
        "SH01-C-SNY-H1-000002 · WH-1000XM5 ×2",
        "SH01-C-SNY-H1-000002 · Cable ×3",
    ]
    assert await p.find("R-0001")
    assert not await p.find("R-9999")
    assert p.message == "No sale has this receipt; check the number."


async def test_choose_one_line_below_the_limit_needs_no_supervisor() -> None:
    p, fake = refunds()
    await p.find("R-0001")
    p.toggle(2)  # the cables: ¥10.00
    assert p.amount == 1000
    assert p.amount_text == "Refund ¥10.00"
    assert not p.needs_approval
    done = await p.refund("faulty")
    assert done is not None
    [(_, checkout_id, lines, reason, approval)] = fake.calls
    assert checkout_id == CHECKOUT
    assert lines == (RefundLine(tid(2), 2, 3),)
    assert (reason, approval) == ("faulty", None)
    assert p.message == "Refunded ¥10.00: Cash ¥10.00."


async def test_part_of_a_line_and_toggling_off() -> None:
    p, _ = refunds()
    await p.find("R-0001")
    assert p.set_qty(1, "1")  # one of the two headphones
    assert p.amount == 249900
    assert not p.set_qty(1, "3")
    assert p.message == "Return between 1 and 2 of this line."
    p.toggle(1)
    assert p.chosen == {}
    assert await p.refund() is None
    assert p.message == "Choose at least one line to return."


async def test_above_the_limit_a_supervisor_must_approve() -> None:
    p, fake = refunds()
    await p.find("R-0001")
    p.toggle(0)  # ¥5,999.00 > ¥500.00
    assert p.needs_approval
    assert p.approval_text == "Above ¥500.00: a supervisor approves with staff number and PIN."
    assert await p.refund() is None
    assert p.message == "This refund is above ¥500.00; a supervisor must enter staff number and PIN."
    assert await p.refund(supervisor_code="C001", pin="2222") is None
    assert p.message == "陈静 Chen Jing is not a supervisor; ask a supervisor to approve."
    assert await p.refund(supervisor_code="V001", pin="0000") is None
    assert p.message == "Staff number or PIN is wrong."
    assert fake.calls == [], "nothing is refunded without the approval"
    done = await p.refund(supervisor_code="v001", pin="4444")
    assert done is not None
    assert done.amount == 599900
    approval = fake.calls[0][4]
    assert approval is not None
    assert (approval.staff_code, approval.pin) == ("V001", "4444")
    assert SUPERVISOR.role == "supervisor"


async def test_exactly_the_limit_needs_no_approval() -> None:
    limit = CONTEXT.__class__(CONTEXT.device_id, CONTEXT.store_id, refund_approval_limit=249900)
    p = RefundPresenter(FakeRefunds(), FakeAuth(), online(), limit)
    await p.find("R-0001")
    p.set_qty(1, "1")
    assert not p.needs_approval
    p.set_qty(1, "2")
    assert p.needs_approval


async def test_a_lost_answer_retries_the_same_refund_id() -> None:
    p, fake = refunds()
    await p.find("R-0001")
    p.toggle(2)
    fake.reachable = False
    assert await p.refund() is None
    fake.reachable = True
    assert await p.refund() is not None
    assert fake.calls[0][0] == fake.calls[1][0]


async def test_refunds_are_disabled_offline_with_the_reason() -> None:
    p, _ = refunds(offline())
    assert p.unavailable == "Refunds need the server; wait for the network."
    assert not await p.find("R-0001")
    assert p.message == "Refunds need the server; wait for the network."


def test_returning_a_line_in_parts_adds_up_to_its_total_exactly() -> None:
    line = SoldLine(tid(1), "N", 1, "x", qty=3, refundable_qty=3, line_total=1000)
    first = line_amount(line, 1)
    rest = line_amount(SoldLine(tid(1), "N", 1, "x", qty=3, refundable_qty=2, line_total=1000), 2)
    assert (first, rest) == (333, 667)
    assert first + rest == 1000


async def test_rows_show_which_tickets_are_partly_refunded_or_refunded_after_each_refund() -> None:
    from client_common.i18n import translator

    p, _ = refunds()
    await p.find("R-0001")
    p.toggle(2)  # the cables of the second ticket
    assert await p.refund() is not None
    assert [r.text for r in p.rows] == [
        "SH01-C-APL-H1-000001 · iPhone 16 ×1",
        "SH01-C-SNY-H1-000002 · WH-1000XM5 ×2 · partly refunded",
        "SH01-C-SNY-H1-000002 · Cable ×3 · partly refunded",
    ]
    assert [r.max_qty for r in p.rows] == [1, 2, 0]
    p.toggle(2)  # nothing of the cables is left to choose
    assert p.chosen == {}
    p.toggle(1)
    assert await p.refund(supervisor_code="V001", pin="4444") is not None
    assert [r.text.rsplit(" · ", 1)[-1] for r in p.rows[1:]] == ["refunded", "refunded"]
    translator.set_language("zh")
    try:
        assert p.rows[2].text.endswith(" · 已退款")
        assert p.rows[0].text.endswith("×1")  # the first ticket is still just paid
    finally:
        translator.set_language("en")


async def test_a_ticket_already_refunded_in_full_is_said_in_the_tills_language() -> None:
    from client_common.i18n import translator
    from client_common.presenters.ports import Refused
    from protocol.checkout import CheckoutCodes

    p, fake = refunds()
    await p.find("R-0001")
    p.toggle(2)
    fake.refuse = Refused(CheckoutCodes.TICKET_REFUNDED, "Ticket SH01-C-SNY-H1-000002 was already refunded in full.")
    translator.set_language("zh")
    try:
        assert await p.refund() is None
        assert p.message == "该小票已全额退款，不能再退。"
    finally:
        translator.set_language("en")


async def test_the_done_message_says_the_points_and_ecoin_taken_back() -> None:
    p, fake = refunds()
    await p.find("R-0001")
    p.toggle(2)
    fake.reversed = (10, 500)
    assert await p.refund() is not None
    assert p.message == "Refunded ¥10.00: Cash ¥10.00. 10 points taken back. ¥5.00 e-coin taken back."
