"""Who may see which stores and periods, and how personal data shows in member rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import asyncpg

from protocol.reports import ReportCodes, Scope
from server.auth.guards import Caller
from server.errors import AppError, NotFound
from server.members.service import mask_phone
from server.reports import repository as sql

DEFAULT_DAYS = 30
MAX_DAYS = 3660
FIRST_DAY = date(1970, 1, 1)  # reports reach back from their period (earlier periods, trailing windows):
LAST_DAY = date(2999, 12, 31)  # dates outside these bounds would overflow that arithmetic


@dataclass(frozen=True)
class Resolved:
    scope: Scope
    stores: list[uuid.UUID]
    chain_wide: bool  # every store of the chain (the member universe is every member)
    show_personal: bool


def period(period_from: date | None, period_to: date | None, today: date | None = None) -> tuple[date, date]:
    """The inclusive period asked for: by default the 30 days up to today."""
    for name, day in (("from", period_from), ("to", period_to)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise AppError(
                ReportCodes.BAD_PERIOD,
                f"Choose dates between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.",
                details={"field": name, "value": day.isoformat()},
            )
    end = period_to or today or date.today()
    start = period_from or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise AppError(ReportCodes.BAD_PERIOD, "The period starts after it ends; swap 'from' and 'to'.")
    if (end - start).days >= MAX_DAYS:
        raise AppError(ReportCodes.BAD_PERIOD, "Choose a period of at most ten years.")
    return start, end


async def resolve(
    conn: asyncpg.Connection,
    caller: Caller,
    *,
    store_id: uuid.UUID | None,
    format_id: uuid.UUID | None,
    period_from: date | None,
    period_to: date | None,
) -> Resolved:
    """Managers see their own store only (another store answers not found); admins the chain, or
    one store or business format of it."""
    start, end = period(period_from, period_to, await local_today(conn, caller.store_id))
    if not caller.chain_wide:
        if store_id is not None and store_id != caller.store_id:
            raise NotFound("store", store_id)
        store_id = caller.store_id
    elif store_id is not None and await conn.fetchval(sql.STORE_EXISTS, store_id) is None:
        raise NotFound("store", store_id)
    stores = [r["id"] for r in await conn.fetch(sql.STORES_IN_SCOPE, store_id, format_id)]
    return Resolved(
        scope=Scope(period_from=start, period_to=end, store_ids=stores, format_id=format_id),
        stores=stores,
        chain_wide=caller.chain_wide and store_id is None and format_id is None,
        show_personal=caller.chain_wide,
    )


async def local_today(conn: asyncpg.Connection, store_id: uuid.UUID) -> date:
    """Today in the store's own time zone (the business day reports and due dates speak of)."""
    day = await conn.fetchval("SELECT (now() AT TIME ZONE timezone)::date FROM store WHERE id = $1", store_id)
    return day if isinstance(day, date) else date.today()


def mask_name(name: str) -> str:
    """``王芳 Wang Fang`` → ``王**``: enough for staff to tell members apart in a list."""
    name = name.strip()
    return (name[:1] + "**") if name else ""


def shown_name(name: str, phone: str, show_personal: bool) -> str:
    """A member as a list shows them: name and phone, masked unless the role may see personal data."""
    if show_personal:
        return f"{name} {phone}"
    return f"{mask_name(name)} {mask_phone(phone)}"


def share(part: int | float, whole: int | float) -> float:
    return round(part / whole, 4) if whole else 0.0


def per(amount: int, count: int) -> int:
    """Integer fen per unit, rounded half away from zero (as PostgreSQL rounds numerics)."""
    if count <= 0:
        return 0
    q = (2 * abs(amount) + count) // (2 * count)
    return q if amount >= 0 else -q


def per_area(amount: int, area: float) -> int | None:
    """Fen per square metre, rounded half away from zero; ``None`` without floor area."""
    if area <= 0:
        return None
    q = (Decimal(abs(amount)) / Decimal(repr(area))).quantize(Decimal(1), ROUND_HALF_UP)
    return int(q) if amount >= 0 else -int(q)
