"""Customer states (textbook: new, repeat, loyal, lapsing, lost; and prospects) with each store's
thresholds."""

from __future__ import annotations

import json
import uuid

import asyncpg

from protocol.reports import (
    CUSTOMER_STATES,
    ReportCodes,
    StateCount,
    StateReport,
    StateRow,
    StateSummaryReport,
    StateThresholds,
)
from server.errors import AppError
from server.reports import repository as sql
from server.reports.scope import Resolved, share, shown_name


async def thresholds(conn: asyncpg.Connection, store_id: uuid.UUID | None) -> StateThresholds:
    row = await conn.fetchrow(sql.SETTINGS, store_id) if store_id else None
    return StateThresholds(**dict(row)) if row else StateThresholds()


async def set_thresholds(
    conn: asyncpg.Connection, store_id: uuid.UUID, t: StateThresholds, staff_id: uuid.UUID
) -> StateThresholds:
    """Store the store's customer-state thresholds (the caller's transaction)."""
    if t.loyal_min_transactions <= t.repeat_min_transactions:
        raise AppError(ReportCodes.BAD_THRESHOLDS, "A loyal customer needs more transactions than a repeat one.")
    if t.lost_days <= t.lapsing_days:
        raise AppError(ReportCodes.BAD_THRESHOLDS, "'Lost' must take longer than 'lapsing'; raise lost_days.")
    await conn.execute(
        sql.UPSERT_SETTINGS,
        store_id,
        t.lookback_days,
        t.repeat_min_transactions,
        t.loyal_min_transactions,
        t.lapsing_days,
        t.lost_days,
        staff_id,
    )
    return t


def _state_args(r: Resolved, t: StateThresholds) -> tuple[object, ...]:
    return (
        r.stores,
        r.scope.period_to,
        t.lookback_days,
        r.chain_wide,
        t.repeat_min_transactions,
        t.loyal_min_transactions,
        t.lapsing_days,
        t.lost_days,
    )


async def _thresholds_for(conn: asyncpg.Connection, r: Resolved) -> StateThresholds:
    # One store's own thresholds; several stores together use the defaults.
    return await thresholds(conn, r.stores[0] if len(r.stores) == 1 else None)


async def _summary(conn: asyncpg.Connection, r: Resolved, t: StateThresholds) -> list[StateCount]:
    counts = {row["state"]: row["members"] for row in await conn.fetch(sql.STATES_SUMMARY, *_state_args(r, t))}
    total = sum(counts.values())
    return [
        StateCount(state=s, members=counts.get(s, 0), share=share(counts.get(s, 0), total))  # type: ignore[arg-type]
        for s in CUSTOMER_STATES
    ]


async def state_summary(conn: asyncpg.Connection, r: Resolved) -> StateSummaryReport:
    await conn.execute(sql.TUNE)
    t = await _thresholds_for(conn, r)
    return StateSummaryReport(scope=r.scope, thresholds=t, rows=await _summary(conn, r, t))


async def states(conn: asyncpg.Connection, r: Resolved, *, only: list[str], limit: int, offset: int) -> StateReport:
    """Each member's customer state as of the period's last day, with the store's thresholds."""
    await conn.execute(sql.TUNE)
    unknown = sorted(set(only) - set(CUSTOMER_STATES))
    if unknown:
        raise AppError(ReportCodes.BAD_THRESHOLDS, f"Unknown state {unknown[0]!r}; use {', '.join(CUSTOMER_STATES)}.")
    t = await _thresholds_for(conn, r)
    rows = await conn.fetch(sql.STATES_PAGE, *_state_args(r, t), only, limit, offset)
    if rows:
        counts = json.loads(rows[0]["summary"] or "{}")
        total = sum(counts.values())
        summary = [StateCount(state=s, members=counts.get(s, 0), share=share(counts.get(s, 0), total))  # type: ignore[arg-type]
                   for s in CUSTOMER_STATES]  # fmt: skip
    else:
        summary = await _summary(conn, r, t)
    out = [
        StateRow(
            member_id=row["member_id"],
            name=shown_name(row["name"], row["phone"], r.show_personal),
            state=row["state"],
            first_day=row["first_day"],
            last_day=row["last_day"],
            days_since_last=row["days_since_last"],
            transactions=row["transactions"],
            spend=row["spend"],
        )
        for row in rows
    ]
    return StateReport(
        scope=r.scope,
        thresholds=t,
        summary=summary,
        members_total=rows[0]["total"] if rows else 0,
        rows=out,
    )
