"""Cash of a refused offline checkout in the till's books: held in the expected cash of the till's shift
when the exception is recorded (the shift was open when the money was taken), given back out of a
drawer or kept on resolution, each on its own line of the X and Z reports, so the Z report shows no
difference for it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from protocol.exceptions import StoreException
from protocol.ids import new_id
from protocol.payments import ShiftReport, TenderLine
from protocol.tickets import Ticket, VoidTicket
from server.settings import Settings
from server.sync.service import apply_commands
from tests.server.checkout.conftest import FLOAT, Shop, checkout, tender
from tests.server.exceptions.test_queue import as_staff, body, refused_with_exception, void

APPROVAL = {"staff_code": "V001", "pin": "4444"}


def now_ms() -> int:
    return int(time.time() * 1000)


async def refused_offline(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, shop: Shop, headers: dict[str, str], change: int = 0
) -> tuple[Ticket, StoreException]:
    """A ticket settled in cash offline just now (with ``change`` given), voided meanwhile, refused on replay."""
    ticket = await shop.issue(conn)
    req = msgspec.structs.replace(
        checkout([ticket], tender("cash", ticket.total + change)), settled_offline_at_ms=now_ms()
    )
    await void(conn, shop, ticket)
    return ticket, await refused_with_exception(api, req, headers, "ticket_not_open")


async def cash_line(api: AsyncTestClient[Any], shift_id: uuid.UUID, headers: dict[str, str]) -> TenderLine:
    r = await api.get(f"/shifts/{shift_id}/report", headers=headers)
    assert r.status_code == 200, r.text
    return next(t for t in msgspec.convert(r.json(), ShiftReport).tenders if t.tender == "cash")


async def close(api: AsyncTestClient[Any], shift_id: uuid.UUID, counted: int, headers: dict[str, str]) -> TenderLine:
    r = await api.post(f"/shifts/{shift_id}/close", json={"counted_cash": counted}, headers=headers)
    assert r.status_code == 200, r.text
    z = msgspec.convert(r.json(), ShiftReport)
    assert z.final
    return next(t for t in z.tenders if t.tender == "cash")


async def exception_movements(conn: asyncpg.Connection, e: StoreException) -> list[tuple[uuid.UUID, str, int]]:
    rows = await conn.fetch(
        "SELECT shift_id, kind, amount FROM shift_movement WHERE reference = $1 ORDER BY at", f"exception:{e.id}"
    )
    return [(r["shift_id"], r["kind"], r["amount"]) for r in rows]


async def test_cash_held_then_given_back_at_the_till_leaves_the_z_report_exact(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    till = await as_staff(conn, settings, "C001", shop)
    ticket, e = await refused_offline(api, conn, shop, till, change=10_000)
    assert e.held_in_shift_id == shop.shift_id
    assert (e.cash_outcome, e.given_back_in_shift_id) == ("", None)
    x = await cash_line(api, shop.shift_id, till)
    assert (x.exceptions_held, x.exceptions_given_back, x.pay_ins) == (ticket.total, 0, 0)
    assert x.expected == FLOAT + ticket.total, "the cash kept (change given back) is in the drawer"

    # The till replays it again, twice at once: no second movement.
    req = msgspec.json.decode(await conn.fetchval("SELECT request::text FROM store_exception WHERE id = $1", e.id))
    again = await asyncio.gather(*(api.post("/checkouts", json=req, headers=till) for _ in range(2)))
    assert {a.json()["details"]["exception"]["id"] for a in again} == {str(e.id)}
    assert await exception_movements(conn, e) == [(shop.shift_id, "pay_in", ticket.total)]

    r = await api.post(f"/exceptions/{e.id}/resolve", json={"note": "gave it back", "approval": APPROVAL}, headers=till)
    assert r.status_code == 200, r.text
    done = msgspec.convert(r.json(), StoreException)
    assert (done.cash_outcome, done.given_back_in_shift_id, done.held_in_shift_id) == (
        "given_back",
        shop.shift_id,
        shop.shift_id,
    )
    assert await exception_movements(conn, e) == [
        (shop.shift_id, "pay_in", ticket.total),
        (shop.shift_id, "pay_out", -ticket.total),
    ]
    z = await close(api, shop.shift_id, FLOAT, till)
    assert (z.expected, z.counted, z.difference) == (FLOAT, FLOAT, 0)
    assert (z.exceptions_held, z.exceptions_given_back, z.pay_ins, z.pay_outs, z.sales) == (
        ticket.total,
        ticket.total,
        0,
        0,
        0,
    )
    audit = await conn.fetchval("SELECT details->>'cash_outcome' FROM audit_log WHERE action = 'exception.resolved'")
    assert audit == "given_back"


async def test_cash_kept_stays_in_the_expected_cash(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    till = await as_staff(conn, settings, "C001", shop)
    ticket, e = await refused_offline(api, conn, shop, till)
    manager = await as_staff(conn, settings, "M001")
    r = await api.post(
        f"/exceptions/{e.id}/resolve",
        json={"note": "customer never came back", "cash_outcome": "kept"},
        headers=manager,
    )
    assert r.status_code == 200, r.text
    done = msgspec.convert(r.json(), StoreException)
    assert (done.cash_outcome, done.given_back_in_shift_id) == ("kept", None)
    assert await exception_movements(conn, e) == [(shop.shift_id, "pay_in", ticket.total)]
    z = await close(api, shop.shift_id, FLOAT + ticket.total, till)
    assert (z.expected, z.difference, z.exceptions_held, z.exceptions_given_back) == (
        FLOAT + ticket.total,
        0,
        ticket.total,
        0,
    )
    r = await api.get(f"/exceptions/{e.id}", headers=manager)
    assert r.json()["cash_outcome"] == "kept"
    r = await api.post(f"/exceptions/{e.id}/resolve", json={"note": "x", "cash_outcome": "nope"}, headers=manager)
    assert r.status_code == 400, "an outcome it does not know is refused"


async def test_held_in_one_shift_given_back_from_the_next_one(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    till = await as_staff(conn, settings, "C001", shop)
    ticket, e = await refused_offline(api, conn, shop, till)
    first = await close(api, shop.shift_id, FLOAT + ticket.total, till)
    assert (first.difference, first.exceptions_held) == (0, ticket.total), "counted with the cash, it is exact"
    second = new_id()
    float2 = ticket.total + 30_000
    r = await api.post("/shifts", json={"shift_id": str(second), "float_amount": float2}, headers=till)
    assert r.status_code == 200, r.text

    manager = await as_staff(conn, settings, "M001")  # from the admin page: the exception's till gives it back
    r = await api.post(f"/exceptions/{e.id}/resolve", json={"note": "refunded at till 1"}, headers=manager)
    assert r.status_code == 200, r.text
    assert r.json()["given_back_in_shift_id"] == str(second)
    z = await close(api, second, 30_000, till)
    assert (z.expected, z.difference, z.exceptions_held, z.exceptions_given_back) == (
        30_000,
        0,
        0,
        ticket.total,
    )


async def test_cash_taken_before_the_open_shift_began_is_not_held_in_it(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    """The money went into an earlier shift's drawer, whose Z report already counted it as over."""
    till = await as_staff(conn, settings, "C001", shop)
    ticket = await shop.issue(conn)
    opened_ms = int(
        await conn.fetchval("SELECT extract(epoch FROM opened_at) * 1000 FROM shift WHERE id = $1", shop.shift_id)
    )
    req = msgspec.structs.replace(
        checkout([ticket], tender("cash", ticket.total)), settled_offline_at_ms=opened_ms - 60_000
    )
    await void(conn, shop, ticket)
    e = await refused_with_exception(api, req, till, "ticket_not_open")
    assert e.held_in_shift_id is None
    assert await exception_movements(conn, e) == []
    assert (await cash_line(api, shop.shift_id, till)).expected == FLOAT


async def test_no_open_shift_anywhere_records_the_outcome_without_movements(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    till = await as_staff(conn, settings, "C001", shop)
    await close(api, shop.shift_id, FLOAT, till)
    ticket, e = await refused_offline(api, conn, shop, till)
    assert e.held_in_shift_id is None
    r = await api.post(
        f"/exceptions/{e.id}/resolve", json={"note": "from the safe", "approval": APPROVAL}, headers=till
    )
    assert r.status_code == 200, r.text
    assert (r.json()["cash_outcome"], r.json()["given_back_in_shift_id"]) == ("given_back", None)
    assert await exception_movements(conn, e) == []
    assert ticket.total > 0


async def test_an_exception_without_cash_moves_nothing_whatever_the_outcome_sent(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    till = await as_staff(conn, settings, "C001", shop)
    ticket = await shop.issue(conn)
    r = await api.post("/checkouts", json=body(checkout([ticket], tender("card", ticket.total))), headers=till)
    assert r.status_code == 200, r.text
    cmd = VoidTicket(command_id=new_id(), device_seq=next(shop.seqs[shop.hh_apple.device_id]), ticket_id=ticket.id)
    await apply_commands(conn, shop.hh_apple, [cmd])
    e_id = await conn.fetchval("SELECT id FROM store_exception WHERE command_id = $1", cmd.command_id)
    manager = await as_staff(conn, settings, "M001")
    r = await api.post(
        f"/exceptions/{e_id}/resolve", json={"note": "goods kept", "cash_outcome": "given_back"}, headers=manager
    )
    assert r.status_code == 200, r.text
    assert (r.json()["cash_outcome"], r.json()["given_back_in_shift_id"]) == ("", None)
    assert await conn.fetchval("SELECT count(*) FROM shift_movement WHERE reference LIKE 'exception:%'") == 0
