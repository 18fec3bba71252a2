"""The exception queue end to end with the till's real wiring against the real server: two tickets settled
in cash while the server is away; meanwhile the counter voids one and the other is paid elsewhere; when
the link is back the server refuses both, records each once (however often the till replays it), the
till says which exception and how much cash to give back, and a supervisor at the till resolves one."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from cashier_app.presenters.exceptions import ExceptionsPresenter, recorded_exception
from cashier_app.wiring import Till
from client_common.presenters.ports import Refused
from protocol.checkout import CheckoutRequest
from protocol.ids import new_id
from protocol.tickets import VoidTicket
from server.auth.guards import DeviceCaller
from server.demo import DemoInfo
from server.sync.service import apply_commands
from server.tickets import service as tickets
from tests.cashier.live_helpers import IP16, Counter, presenters, signed_in_till, until
from tests.live_server import LiveServer

AIRPODS = "6901234500028"


def waiting_request(till: Till, checkout_id: uuid.UUID) -> tuple[CheckoutRequest, list[str]]:
    from cashier_app.adapters.checkouts import _qrs, _requests

    body, qrs = till.store.db.execute(
        "SELECT request, qrs FROM till_checkout WHERE id = ?", (str(checkout_id),)
    ).fetchone()
    return _requests.decode(body), _qrs.decode(qrs)


async def void_at_the_counter(conn: asyncpg.Connection, counter: Counter, ticket_id: uuid.UUID) -> None:
    """The counter voids the ticket on its handheld, and that command reaches the server."""
    counter.hh.book.void(ticket_id, "customer left")
    [cmd] = [c for c in counter.hh.store.outbox() if isinstance(c, VoidTicket)]
    me = counter.hh.device.identity
    assert me is not None
    row = await conn.fetchrow("SELECT store_id, counter_id FROM device WHERE id = $1", me.device_id)
    device = DeviceCaller(me.device_id, row["store_id"], "handheld", row["counter_id"])
    (result,), _ = await apply_commands(conn, device, [cmd])
    assert result.status == "applied", result.error


async def test_offline_cash_refused_later_is_recorded_once_shown_at_the_till_and_resolved_by_a_supervisor(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    till, _ = await signed_in_till(tmp_path / "till", live, demo)
    s = till.services
    basket, payment, shift = presenters(till)
    assert await shift.open("200")
    payment.shift_id = shift.shift.shift_id if shift.shift else None
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    voided, voided_qr = await apple.issue(IP16)  # 5,999.00
    elsewhere, elsewhere_qr = await apple.issue(AIRPODS)  # 1,699.00
    await apple.upload()
    apple_id = apple.hh.device.identity.device_id  # type: ignore[union-attr]
    await until(lambda: till.store.ticket(elsewhere) is not None, what="the tickets reached the till")
    await until(lambda: till.sync.keys(apple_id) is not None, what="the till fetched the handheld's key")

    # The Wi-Fi drops; the till settles both tickets in cash (6,000.00 for the iPhone: 1.00 change).
    await asyncio.to_thread(live.stop)
    await until(lambda: s.connection.state.link == "offline", what="offline shown")
    settled = []
    for qr, cash in ((voided_qr, "6000"), (elsewhere_qr, "")):
        assert await basket.scan(qr), basket.message
        assert payment.add_cash(cash), payment.message
        done = await payment.settle()
        assert done is not None, payment.message
        assert done.queued
        settled.append(done)
        payment.next_customer()
    # Meanwhile the counter voids the iPhone ticket and the AirPods are paid through another checkout.
    await void_at_the_counter(conn, apple, voided)
    async with conn.transaction():
        await tickets.mark_paid(conn, demo.store_id, [elsewhere], new_id())

    await asyncio.to_thread(live.start)
    await until(lambda: s.connection.state.online and s.connection.state.outbox == 0, what="outbox sent")
    await until(lambda: len(s.connection.state.dead_letters) == 2, what="both refusals shown")
    letters = {d.command_id: d for d in s.connection.state.dead_letters}
    rows = await conn.fetch(
        "SELECT checkout_id, number, kind, taken::text, request ->> 'offline_receipt_no' AS receipt_no"
        " FROM store_exception ORDER BY number"
    )
    by_checkout = {r["checkout_id"]: r for r in rows}
    assert set(by_checkout) == {settled[0].checkout_id, settled[1].checkout_id}
    iphone = by_checkout[settled[0].checkout_id]
    assert iphone["kind"] == "ticket_voided"
    assert iphone["receipt_no"] == settled[0].receipt_no, "the number on the customer's paper receipt"
    assert letters[settled[0].checkout_id].message == (
        f"Ticket voided by the counter · recorded for the manager as exception {iphone['number']}: "
        "give ¥5,999.00 in cash back to the customer"
    )
    airpods = by_checkout[settled[1].checkout_id]
    assert airpods["kind"] == "paid_elsewhere"
    assert f"exception {airpods['number']}: give ¥1,699.00 in cash" in letters[settled[1].checkout_id].message
    for done in settled:
        assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", done.checkout_id) == 0
    assert shift.shift is not None
    shift_id = shift.shift.shift_id
    # Nothing of the checkouts is in the shift, but their cash is in the drawer: held for the exceptions.
    movements = await conn.fetch(
        "SELECT kind, amount, reference FROM shift_movement WHERE shift_id = $1 ORDER BY at", shift_id
    )
    assert [(m["kind"], m["amount"]) for m in movements] == [
        ("float", 20_000),
        ("pay_in", 599_900),
        ("pay_in", 169_900),
    ]
    assert all(m["reference"].startswith("exception:") for m in movements[1:])

    # The till sends one again (a lost answer, a restart): the same exception, never a second one.
    assert await till.checkouts.flush() == 0, "refused checkouts are not sent again by themselves"
    for _ in range(2):
        with pytest.raises(Refused) as refused:
            await till.checkouts._replay(*waiting_request(till, settled[0].checkout_id))
        again = recorded_exception(refused.value.details)
        assert again is not None
        assert again.number == iphone["number"]
    assert await conn.fetchval("SELECT count(*) FROM store_exception") == 2

    # A supervisor at the till opens the queue with staff number and PIN and resolves the iPhone's.
    assert s.exceptions is not None
    queue = ExceptionsPresenter(s.exceptions, s.connection)
    assert not await queue.unlock("S001", "1111"), "sales staff cannot open it"
    assert await queue.unlock("V001", "4444"), queue.message
    assert [r.to_refund for r in queue.rows] == [169_900, 599_900]
    index = next(r.index for r in queue.rows if r.to_refund == 599_900)
    assert queue.rows[index].where.endswith(f"customer's receipt {settled[0].receipt_no}")
    assert await queue.resolve(index, "gave 5,999.00 back from the drawer"), queue.message
    assert [r.to_refund for r in queue.rows] == [169_900]
    resolved = await conn.fetchrow(
        "SELECT e.status, e.resolution_note, s.code FROM store_exception e JOIN staff s ON s.id = e.resolved_by"
        " WHERE e.checkout_id = $1",
        settled[0].checkout_id,
    )
    assert tuple(resolved) == ("resolved", "gave 5,999.00 back from the drawer", "V001")
    audit = await conn.fetchrow("SELECT staff_id, device_id FROM audit_log WHERE action = 'exception.resolved'")
    assert audit["device_id"] == s.enroller.enrolled().device_id  # type: ignore[union-attr]
    # The cash went back out of this till's drawer: the X report expects the float and the AirPods' cash.
    report = await shift.x_report()
    assert report is not None
    cash = next(t for t in report.tenders if t.tender == "cash")
    assert (cash.exceptions_held, cash.exceptions_given_back, cash.expected) == (769_800, 599_900, 20_000 + 169_900)
    await s.stop_sync()
    till.close()
    apple.close()
