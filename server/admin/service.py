"""The admin pages' own reads: the store at a glance and today's dashboard, from one snapshot."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from protocol.admin import (
    CounterInfo,
    CounterSales,
    Dashboard,
    DeviceHealth,
    DeviceHealthState,
    HourSales,
    StoreOverview,
)
from server.admin import repository as repo
from server.errors import NotFound
from server.exceptions import service as exceptions

STALE_AFTER = timedelta(minutes=10)


async def store_overview(conn: asyncpg.Connection, store_id: uuid.UUID) -> StoreOverview:
    """The store's names, currency and counters."""
    store = await conn.fetchrow(repo.STORE_DAY, store_id)
    if store is None:
        raise NotFound("store", store_id)
    counters = [CounterInfo(**dict(r)) for r in await conn.fetch(repo.COUNTERS, store_id)]
    return StoreOverview(
        id=store["id"],
        code=store["code"],
        name_zh=store["name_zh"],
        name_en=store["name_en"],
        currency=store["currency"],
        timezone=store["timezone"],
        counters=counters,
    )


def device_health(row: asyncpg.Record | Mapping[str, Any], now: datetime) -> DeviceHealthState:
    """One word for a device's state: the first of revoked, pending, never_seen, rejects, stale, ok."""
    if row["state"] == "revoked":
        return "revoked"
    if row["state"] == "pending":
        return "pending"
    seen = [t for t in (row["last_seen_at"], row["last_command_at"]) if isinstance(t, datetime)]
    if not seen:
        return "never_seen"
    if int(row["rejected_24h"] or 0) > 0:
        return "rejects"
    if now - max(seen) > STALE_AFTER:
        return "stale"
    return "ok"


async def dashboard(conn: asyncpg.Connection, store_id: uuid.UUID) -> Dashboard:
    """Today's sales, tickets and exceptions of one store, and how each of its devices is syncing."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):  # one consistent snapshot
        store = await conn.fetchrow(repo.STORE_DAY, store_id)
        if store is None:
            raise NotFound("store", store_id)
        window = (store_id, store["day_start"], store["day_end"])
        sales = await conn.fetchrow(repo.SALES, *window)
        assert sales is not None  # an aggregate always answers one row
        hours = {r["hour"]: r for r in await conn.fetch(repo.SALES_BY_HOUR, *window, store["timezone"])}
        per_counter = {r["counter_id"]: r for r in await conn.fetch(repo.SALES_BY_COUNTER, *window)}
        refunds: int = await conn.fetchval(repo.REFUNDS, *window)
        tickets = await conn.fetchrow(repo.TICKETS, store_id, store["day"])
        assert tickets is not None
        unresolved: int = await conn.fetchval(repo.UNRESOLVED_PAYMENTS, store_id)
        open_exceptions = await exceptions.open_count(conn, store_id)
        counters = await conn.fetch(repo.COUNTERS, store_id)
        devices = await conn.fetch(repo.DEVICES, store_id)
    now: datetime = store["now"]
    checkouts, gross = int(sales["checkouts"]), int(sales["sales"])
    by_counter = [
        CounterSales(
            counter_id=c["id"],
            code=c["code"],
            name_zh=c["name_zh"],
            name_en=c["name_en"],
            sales=int(per_counter[c["id"]]["sales"]) if c["id"] in per_counter else 0,
            tickets=int(per_counter[c["id"]]["tickets"]) if c["id"] in per_counter else 0,
        )
        for c in counters
        if c["active"] or c["id"] in per_counter
    ]
    return Dashboard(
        store_id=store["id"],
        store_code=store["code"],
        store_name_zh=store["name_zh"],
        store_name_en=store["name_en"],
        currency=store["currency"],
        business_day=store["day"],
        generated_at=now,
        sales=gross,
        refunds=refunds,
        net_sales=gross - refunds,
        checkouts=checkouts,
        average_checkout=gross // checkouts if checkouts else 0,
        tickets_paid=sum(c.tickets for c in by_counter),
        tickets_issued=int(tickets["issued_today"]),
        open_tickets=int(tickets["open"]),
        unresolved_payments=unresolved,
        by_hour=[
            HourSales(
                hour=h,
                sales=int(hours[h]["sales"]) if h in hours else 0,
                checkouts=int(hours[h]["checkouts"]) if h in hours else 0,
            )
            for h in range(24)
        ],
        by_counter=by_counter,
        devices=[_device(r, now) for r in devices],
        stale_after_minutes=int(STALE_AFTER.total_seconds() // 60),
        open_exceptions=open_exceptions,
    )


def _device(r: asyncpg.Record, now: datetime) -> DeviceHealth:
    return DeviceHealth(
        device_id=r["id"],
        label=r["label"],
        kind=r["kind"],
        state=r["state"],
        counter_id=r["counter_id"],
        last_seen_at=r["last_seen_at"],
        last_command_at=r["last_command_at"],
        last_applied_seq=int(r["last_applied_seq"]),
        commands_applied=int(r["applied"]),
        commands_rejected=int(r["rejected"]),
        rejected_24h=int(r["rejected_24h"]),
        events_behind=None if r["acked_position"] is None else max(0, int(r["last_position"]) - r["acked_position"]),
        health=device_health(r, now),
    )
