"""End of business day: issued tickets whose day has ended become ``expired``.

Each store sets its own ``timezone`` and ``business_day_end``. ``expire_due`` is idempotent and safe to
run from several server processes at once (rows are locked, already-expired tickets are skipped);
``expiry_lifespan`` runs it in the background every ``expiry_interval_s`` seconds (default 60).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import cast

import asyncpg
import msgspec
from litestar import Litestar

from server import events
from server.tickets import repository as repo

log = logging.getLogger(__name__)


async def expire_due(conn: asyncpg.Connection, now: datetime | None = None, batch: int = 500) -> int:
    """Expire every issued ticket whose business day ended at ``now``; return how many changed."""
    now = now or datetime.now(UTC)
    total = 0
    for store in await conn.fetch(repo.DUE_STORES, now):
        store_id = store["store_id"]
        while True:
            async with conn.transaction():
                # Rows another writer holds are skipped (and expired next round if still open); the
                # store's counter is taken last, by the append (lock order: ``server.events``).
                rows = await conn.fetch(repo.DUE_IN_STORE, store_id, now, batch)
                ids = [r["id"] for r in rows]
                if ids:
                    await conn.execute(repo.SET_EXPIRED, ids)
                    expired = [msgspec.structs.replace(t, state="expired") for t in await repo.with_lines(conn, rows)]
                    await events.append_all(conn, store_id, [events.new_event("ticket_expired", t) for t in expired])
            total += len(ids)
            if len(ids) < batch:
                break
    return total


async def _loop(pool: asyncpg.Pool, interval: float) -> None:
    while True:
        try:
            async with pool.acquire() as conn:
                n = await expire_due(cast(asyncpg.Connection, conn))
            if n:
                log.info("expired %d tickets at the end of their business day", n)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("ticket expiry skipped this round: %s", exc)
        await asyncio.sleep(interval)


@asynccontextmanager
async def expiry_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Run ticket expiry in the background while the app runs (after the pool lifespan)."""
    settings = getattr(app.state, "settings", None)
    extra = getattr(settings, "extra", {}) or {}
    interval = float(extra.get("expiry_interval_s", "60"))
    task = asyncio.create_task(_loop(app.state.pool, interval), name="ticket-expiry")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
