"""The till's real wiring (SQLite store, HTTP API, websocket transport, device keys) and its presenters
against the real server on loopback with the demo store: the live queue, a consolidated checkout from
two counters with stored value and cash, a refund with a supervisor's approval, the Z report, and a
checkout settled while the server is away that applies exactly once when it is back."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path

import asyncpg
import pytest

from cashier_app.presenters.queue import TicketQueue
from cashier_app.presenters.refunds import RefundPresenter
from cashier_app.printer import ReceiptPrinter
from cashier_app.services import default_till
from cashier_app.wiring import Till
from protocol.checkout import CheckoutRequest
from protocol.ids import new_id
from protocol.receipts import verify_receipt
from server.demo import DemoInfo
from server.tickets import service as tickets
from tests.cashier.live_helpers import IP16, PURA70, ZHAO, Counter, presenters, signed_in_till, until
from tests.live_server import LiveServer


async def public_key(conn: asyncpg.Connection, device_id: uuid.UUID) -> bytes:
    key = await conn.fetchval("SELECT public_key FROM device WHERE id = $1 AND state = 'active'", device_id)
    return bytes(key) if isinstance(key, bytes) else base64.b64decode(key)


async def test_a_ticket_issued_through_the_api_appears_in_the_live_queue(
    live: LiveServer, demo: DemoInfo, tmp_path: Path
) -> None:
    till, _ = await signed_in_till(tmp_path / "till", live, demo)
    queue = TicketQueue(till.services.events)
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    ticket_id, _ = await apple.issue(IP16, ZHAO)
    assert not any(t.id == ticket_id for g in queue.groups for t in g.tickets)
    await apple.upload()
    await until(lambda: any(t.id == ticket_id for g in queue.groups for t in g.tickets), what="ticket in the queue")
    [group] = [g for g in queue.groups if any(t.id == ticket_id for t in g.tickets)]
    assert group.total == 599900
    assert group.member_id is not None

    # A restarted till shows the queue from its store at once, before the link is up.
    await till.services.stop_sync()
    till.close()
    from cashier_app.wiring import build

    again = build(tmp_path / "till")
    assert any(t.id == ticket_id for g in TicketQueue(again.services.events).groups for t in g.tickets)
    again.close()
    apple.close()


async def test_two_counters_one_payment_refund_with_approval_and_the_z_report(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    printed = tmp_path / "printer.bin"
    till, _ = await signed_in_till(tmp_path / "till", live, demo, printer=_file_printer(printed))
    s = till.services
    me = s.enroller.enrolled()
    assert me is not None
    basket, payment, shift = presenters(till)
    assert await shift.open("500")
    payment.shift_id = shift.shift.shift_id if shift.shift else None

    # The member buys at the Apple counter (sent to the server) and the Huawei counter (whose handheld
    # never sent it: the till uploads it from the customer's code).
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    huawei = await Counter.enrolled(tmp_path / "huawei", live, demo, "Handheld Huawei 1")
    a_id, a_qr = await apple.issue(IP16, ZHAO)
    await apple.upload()
    b_id, b_qr = await huawei.issue(PURA70, ZHAO)
    assert await conn.fetchval("SELECT count(*) FROM ticket WHERE id = $1", b_id) == 0

    assert await basket.scan(a_qr), basket.message
    assert [t.id for t in basket.tickets] == [a_id]
    assert await basket.scan(b_qr), basket.message
    assert [t.id for t in basket.tickets] == [a_id, b_id]
    assert basket.total == 599900 + 499900
    assert basket.member is not None
    assert basket.member.stored_value == 100_000
    assert basket.member.name.startswith("赵")

    # Stored value (all of it), then cash: 10,000.00 handed over for the rest gives 2.00 change.
    assert payment.add_balance("stored_value"), payment.message
    assert payment.remaining == 1_099_800 - 100_000
    assert payment.add_cash("10000"), payment.message
    assert payment.change == 200
    settled = await payment.settle()
    assert settled is not None, payment.message
    assert not settled.queued
    assert (settled.total, settled.tendered, settled.change) == (1_099_800, 1_100_000, 200)
    assert settled.points_earned > 0

    # The receipt QR is signed by this till's key and proves what was paid.
    receipt = verify_receipt(settled.receipt_qr, {me.device_id: await public_key(conn, me.device_id)})
    assert receipt.checkout_id == settled.checkout_id
    assert (receipt.total, receipt.paid, receipt.change) == (1_099_800, 1_100_000, 200)
    assert sorted(t.id for t in receipt.tickets) == sorted([a_id, b_id])
    assert receipt.receipt_no == settled.receipt_no
    rows = await conn.fetch("SELECT state, checkout_id FROM ticket WHERE id = ANY($1)", [a_id, b_id])
    assert {(r["state"], r["checkout_id"]) for r in rows} == {("paid", settled.checkout_id)}
    # The printer got the server's 80 mm layout, in GB18030, with the QR and a cut.
    data = printed.read_bytes()
    assert settled.receipt_no.encode() in data
    assert "合计".encode("gb18030") in data or b"TOTAL" in data.upper()
    assert data.endswith(b"\x1dVA\x00") or b"\x1dV" in data

    # Refund the iPhone: above the limit, so a supervisor approves with staff number and PIN.
    refunds = RefundPresenter(s.refunds, s.auth, s.connection, default_till(me))
    assert await refunds.find(settled.receipt_qr), refunds.message
    iphone = next(r.index for r in refunds.rows if "iPhone" in r.text)
    refunds.toggle(iphone)
    assert refunds.amount == 599900
    assert refunds.needs_approval
    assert await refunds.refund("customer changed mind") is None
    assert "supervisor" in refunds.message
    assert await refunds.refund("customer changed mind", "S001", "1111") is None, "sales staff cannot approve"
    done = await refunds.refund("customer changed mind", "V001", "4444")
    assert done is not None, refunds.message
    assert done.amount == 599900
    to = dict(done.to)
    assert set(to) == {"cash", "stored_value"}
    assert sum(to.values()) == 599900
    assert await conn.fetchval("SELECT sum(amount) FROM refund WHERE checkout_id = $1", settled.checkout_id) == 599900
    again = await refunds.find(settled.receipt_no)
    assert again
    assert [r.max_qty for r in refunds.rows if "iPhone" in r.text] == [0]

    # Close the shift: the Z report has the float, the cash taken, the change, the refund and the count.
    cash_back = to["cash"]
    expected = 50_000 + 1_000_000 - 200 - cash_back
    report = await shift.close(f"{(expected - 100) / 100:.2f}")  # one yuan short
    assert report is not None, shift.message
    assert report.final
    cash = next(t for t in report.tenders if t.tender == "cash")
    assert (cash.float_amount, cash.sales, cash.change, cash.refunds) == (50_000, 1_000_000, 200, cash_back)
    assert cash.expected == expected
    assert (cash.counted, cash.difference) == (expected - 100, -100)
    stored = next(t for t in report.tenders if t.tender == "stored_value")
    assert (stored.sales, stored.refunds) == (100_000, to["stored_value"])
    assert report.refund_count == len(to), "one refund movement per tender given back"

    await s.stop_sync()
    for device in (till, apple, huawei):
        device.close()


def _file_printer(path: Path) -> ReceiptPrinter:
    from cashier_app.printer import from_env

    printer = from_env(str(path))
    assert printer is not None
    return printer


async def test_offline_cash_for_a_scanned_ticket_applies_once_on_reconnect_and_conflicts_are_shown(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    till, _ = await signed_in_till(tmp_path / "till", live, demo)
    s = till.services
    basket, payment, shift = presenters(till)
    assert await shift.open("200")
    payment.shift_id = shift.shift.shift_id if shift.shift else None
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    never_sent, qr = await apple.issue(IP16)  # walk-in, the handheld never sends it
    elsewhere, elsewhere_qr = await apple.issue("6901234500028")  # AirPods, sent, then paid at another till
    await apple.upload()
    apple_id = apple.hh.device.identity.device_id  # type: ignore[union-attr]
    await until(lambda: till.store.ticket(elsewhere) is not None, what="the ticket reached the till")
    await until(lambda: till.sync.keys(apple_id) is not None, what="the till fetched the new handheld's key")

    await asyncio.to_thread(live.stop)
    await until(lambda: s.connection.state.link == "offline", what="offline shown")
    assert await basket.scan(qr), basket.message
    assert payment.unavailable("wallet") != ""
    assert payment.unavailable("stored_value") != ""
    assert payment.add_cash("6000"), payment.message
    settled = await payment.settle()
    assert settled is not None, payment.message
    assert settled.queued
    assert settled.change == 100
    assert s.connection.state.outbox == 1
    payment.next_customer()
    assert await basket.scan(elsewhere_qr), basket.message
    assert payment.add_cash(""), payment.message
    conflict = await payment.settle()
    assert conflict is not None
    assert conflict.queued
    assert s.connection.state.outbox == 2
    # Meanwhile the server pays the AirPods ticket through another checkout.
    async with conn.transaction():
        await tickets.mark_paid(conn, demo.store_id, [elsewhere], new_id())

    await asyncio.to_thread(live.start)
    await until(lambda: s.connection.state.online and s.connection.state.outbox == 0, what="outbox sent")
    row = await conn.fetchrow("SELECT state, checkout_id FROM ticket WHERE id = $1", never_sent)
    assert (row["state"], row["checkout_id"]) == ("paid", settled.checkout_id)
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", settled.checkout_id) == 1
    assert await conn.fetchval("SELECT count(*) FROM applied_command WHERE command_id = $1", never_sent) == 1
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", conflict.checkout_id) == 0
    [letter] = s.connection.state.dead_letters
    assert letter.what == f"Checkout {conflict.receipt_no}"
    assert letter.code in ("ticket_wrong_state", "ticket_not_open", "ticket_already_in_checkout")

    # Sending again changes nothing: the checkout id makes it a replay.
    movements = "SELECT count(*) FROM shift_movement WHERE shift_id = $1"
    assert shift.shift is not None
    before = await conn.fetchval(movements, shift.shift.shift_id)
    assert before == 4, "the float, the cash in, the change out, and the refused one's cash held for its exception"
    assert await till.checkouts.flush() == 0
    replayed = await till.checkouts._replay(*_waiting_request(till, settled.checkout_id))
    assert replayed.replayed
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", settled.checkout_id) == 1
    assert await conn.fetchval(movements, shift.shift.shift_id) == before
    await s.stop_sync()
    till.close()
    apple.close()


def _waiting_request(till: Till, checkout_id: uuid.UUID) -> tuple[CheckoutRequest, list[str]]:
    from cashier_app.adapters.checkouts import _qrs, _requests

    db = till.store.db
    body, qrs = db.execute("SELECT request, qrs FROM till_checkout WHERE id = ?", (str(checkout_id),)).fetchone()
    return _requests.decode(body), _qrs.decode(qrs)


@pytest.mark.parametrize("kind", ["card"])
async def test_a_card_decline_then_unknown_outcome_checked_again_by_the_same_id(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path, kind: str
) -> None:
    till, _ = await signed_in_till(tmp_path / "till", live, demo)
    basket, payment, shift = presenters(till)
    assert await shift.open("0")
    payment.shift_id = shift.shift.shift_id if shift.shift else None
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    ticket_id, qr = await apple.issue(IP16)
    await apple.upload()
    assert await basket.scan(qr), basket.message

    assert not await payment.take_card("card", "4000000000009995")
    assert "declined" in payment.message
    assert payment.pending is None
    # The acquirer answers "unknown"; asking again with the same payment id finds it approved.
    assert not await payment.take_card("card", "4000000000000259")
    pending = payment.pending
    assert pending is not None
    assert "Do not charge again" in payment.message
    await asyncio.sleep(2.2)  # the simulator settles an unknown charge after FT_SIM_UNKNOWN_SETTLE_S
    assert await payment.check_pending(), payment.message
    assert [t.id for t in payment.tenders] == [pending.payment_id]
    settled = await payment.settle()
    assert settled is not None, payment.message
    assert settled.tenders[0].masked.endswith("0259")
    assert (
        await conn.fetchval("SELECT count(*) FROM payment WHERE id = $1 AND status = 'approved'", pending.payment_id)
        == 1
    )
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", ticket_id) == "paid"
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM sim_acquirer_charge WHERE idempotency_key = $1", str(pending.payment_id)
        )
        <= 1
    )
    await till.services.stop_sync()
    till.close()
    apple.close()
