"""The cash of an exception in the till's books (``server.shifts``): held in the expected cash of the
shift whose drawer took it, and given back out of a drawer on resolution. See docs/exceptions.md."""

from __future__ import annotations

import uuid

import asyncpg

from protocol.exceptions import StoreException
from server.auth.guards import Caller
from server.checkout.service import Who
from server.errors import Conflict
from server.exceptions import repository as repo
from server.shifts import service as shifts


def cash_of(e: StoreException) -> int:
    """Fen of cash the fix gives back to the customer."""
    return sum(m.amount for m in e.fix if m.action == "refund_cash")


async def hold_cash(conn: asyncpg.Connection, who: Who, e: StoreException, taken_at_ms: int) -> uuid.UUID | None:
    """The cash of a refused offline checkout is in the till's drawer: count it in the expected cash of
    the till's shift when that shift was already open when the money was taken (a shift closed since
    counted it as "over" in its Z report). The shift it went into, or None."""
    cash = cash_of(e)
    if not cash or who.device_id is None:
        return None
    shift_id: uuid.UUID | None = await conn.fetchval(repo.DRAWER_SINCE, who.device_id, who.store_id, taken_at_ms)
    if shift_id is None:
        return None
    try:
        await shifts.exception_cash(
            conn,
            shift_id=shift_id,
            exception_id=e.id,
            way="held",
            amount=cash,
            staff_id=who.staff_id,
            note=f"exception {e.number}: cash of a refused offline checkout",
        )
    except Conflict:  # the shift was closed a moment ago: its count has the cash as "over"
        return None
    return shift_id


async def give_back_cash(
    conn: asyncpg.Connection, caller: Caller, e: StoreException, by: uuid.UUID
) -> uuid.UUID | None:
    """The cash went back to the customer: out of the drawer of the exception's till when it has a shift
    open, else of the till the resolution is made at; None when neither has (given from the safe)."""
    for till in dict.fromkeys(t for t in (e.device_id, caller.device_id) if t is not None):
        shift_id: uuid.UUID | None = await conn.fetchval(repo.OPEN_SHIFT, till, caller.store_id)
        if shift_id is None:
            continue
        try:
            await shifts.exception_cash(
                conn,
                shift_id=shift_id,
                exception_id=e.id,
                way="given_back",
                amount=cash_of(e),
                staff_id=by,
                note=f"exception {e.number}: cash given back to the customer",
            )
        except Conflict:  # closed a moment ago
            continue
        return shift_id
    return None
