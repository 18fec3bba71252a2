"""Shifts (float, X and Z reports), who may work the till, top-ups and the receipt on screen."""

from __future__ import annotations

import uuid

from cashier_app.presenters.ports import Settled, Tender
from cashier_app.presenters.receipt import receipt_view
from cashier_app.presenters.shift import ShiftPresenter, till_refusal
from cashier_app.presenters.top_up import TopUpPresenter
from client_common.i18n import translator
from tests.cashier.fakes import (
    CASHIER,
    SALES,
    SUPERVISOR,
    WANG,
    FakeCustomers,
    FakeShifts,
    FakeTopUps,
    offline,
    online,
)


def test_only_till_roles_may_work_the_till() -> None:
    assert till_refusal(CASHIER) == ""
    assert till_refusal(SUPERVISOR) == ""
    assert till_refusal(SALES) == "王芳 Wang Fang cannot work a till; sign in with a cashier's staff number."


async def test_open_with_a_float_then_x_and_z_reports() -> None:
    shifts = FakeShifts()
    p = ShiftPresenter(shifts, online())
    assert await p.resume() is None
    assert p.message == "No shift is open; count the opening cash and open one."
    assert not await p.open("five hundred")
    assert p.message == "Enter the amount as yuan, e.g. 500 or 500.00."
    assert await p.open("500")
    assert p.shift is not None
    assert p.shift.float_amount == 50000
    assert p.message == "Shift open with ¥500.00 in the drawer."
    shifts.sales = 19900
    x = await p.x_report()
    assert x is not None
    assert not x.final
    assert p.report_title.startswith("X report · shift open since ")
    [cash] = p.rows  # the card line has no movements and is left out
    assert (cash.tender, cash.sales, cash.expected, cash.counted) == ("Cash", "¥199.00", "¥699.00", "")
    z = await p.close("697.50")
    assert z is not None
    assert z.final
    assert p.shift is None
    assert p.report_title == "Z report · shift closed"
    [cash] = p.rows
    assert (cash.expected, cash.counted, cash.difference) == ("¥699.00", "¥697.50", "short ¥1.50")
    translator.set_language("zh")
    assert p.rows[0].difference == "短款 ¥1.50"


async def test_a_restarted_till_resumes_its_open_shift() -> None:
    shifts = FakeShifts()
    await ShiftPresenter(shifts, online()).open("300")
    again = ShiftPresenter(shifts, online())
    resumed = await again.resume()
    assert resumed is not None
    assert resumed.float_amount == 30000


async def test_opening_again_after_a_lost_answer_reuses_the_shift_id() -> None:
    shifts = FakeShifts()
    p = ShiftPresenter(shifts, online())
    shifts.reachable = False
    assert not await p.open("500")
    assert p.message.startswith("The server cannot be reached")
    shifts.reachable = True
    assert await p.open("500")
    assert shifts.open_calls[0] == shifts.open_calls[1]


async def test_shifts_need_the_server() -> None:
    p = ShiftPresenter(FakeShifts(), offline())
    assert not await p.open("500")
    assert p.message == "Opening and closing a shift needs the server; wait for the network."


async def test_top_up_adds_stored_value_once_even_when_the_answer_is_lost() -> None:
    top_ups = FakeTopUps()
    p = TopUpPresenter(FakeCustomers(), top_ups, online())
    p.shift_id = uuid.UUID(int=7)
    assert not await p.top_up("100")
    assert p.message == "Find the member first."
    assert await p.find("13800000001")
    assert p.message == "王* · stored value ¥1,000.00"
    top_ups.reachable = False
    assert not await p.top_up("500")
    top_ups.reachable = True
    assert await p.top_up("500")
    assert top_ups.calls[0][1] == top_ups.calls[1][1], "the retry reuses the movement id"
    assert top_ups.balance == 150000
    assert p.message == "Added ¥500.00; 王* now has ¥1,500.00 stored value."
    assert top_ups.calls[0][0] == WANG
    assert top_ups.calls[0][3] == uuid.UUID(int=7)
    assert not await p.top_up("0")
    assert p.message == "Enter the amount as yuan, e.g. 500."


async def test_top_up_needs_the_server() -> None:
    p = TopUpPresenter(FakeCustomers(), FakeTopUps(), offline())
    assert not await p.find("M0001")
    assert p.message == "Top-ups need the server; wait for the network."


def test_receipt_on_screen() -> None:
    settled = Settled(
        checkout_id=uuid.UUID(int=1),
        receipt_no="R-0007",
        ticket_numbers=("SH01-C-APL-H1-000001", "SH01-C-SNY-H1-000002"),
        total=849800,
        tendered=860000,
        change=10200,
        tenders=(Tender(uuid.UUID(int=2), "stored_value", 100000), Tender(uuid.UUID(int=3), "cash", 760000)),
        receipt_qr="FTR1:ABC",
        points_earned=8498,
    )
    view = receipt_view(settled)
    assert view.qr == "FTR1:ABC"
    assert view.title == "Receipt R-0007"
    assert view.total == "Total ¥8,498.00"
    assert view.change == "Change ¥102.00"
    assert view.tenders == (("Stored value", "¥1,000.00"), ("Cash", "¥7,600.00"))
    assert view.note == "Points earned: 8498\nThe customer shows this code at each counter to collect the goods."
    translator.set_language("zh")
    queued = receipt_view(Settled(**{**settled.__dict__, "queued": True, "points_earned": 0}))
    assert queued.title == "收银凭证 R-0007"
    assert queued.note == "离线：已保存在本机，联网后自动上传。"
