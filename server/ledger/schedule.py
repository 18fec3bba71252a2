"""The ledger's scheduled jobs inside each server process: e-coin expiry and expired holds every few
minutes, tiers once a day. Several processes may run them at once: the jobs lock what they work on
and skip what another process holds, so each lot and hold is handled once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from server.ledger import jobs
from server.loyalty.service import recompute_all_tiers

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 300


async def run_once(pool: object, *, tiers: bool) -> None:
    async with pool.acquire() as conn:  # type: ignore[attr-defined]
        async with conn.transaction():
            expired = await jobs.expire_ecoin(conn)
        async with conn.transaction():
            released = await jobs.release_expired_holds(conn)
        changed = 0
        if tiers:
            async with conn.transaction():
                changed = await recompute_all_tiers(conn)
    if expired.lots_expired or released or changed:
        log.info("ledger jobs: %d e-coin lots expired, %d holds released, %d tiers changed",
                 expired.lots_expired, released, changed)  # fmt: skip


async def _loop(app: Litestar, interval: float) -> None:
    runs = 0
    per_day = max(1, int(86_400 // interval))
    while True:
        await asyncio.sleep(interval)
        try:
            await run_once(app.state.pool, tiers=runs % per_day == 0)
        except Exception:  # a failed run is retried at the next tick; the jobs are idempotent
            log.exception("ledger jobs failed")
        runs += 1


@asynccontextmanager
async def ledger_jobs_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Start the job loop after the pool is open (list it after the pool's lifespan).
    ``FT_LEDGER_JOBS_SECONDS`` sets the interval; 0 turns the loop off (run the jobs elsewhere)."""
    interval = float(os.environ.get("FT_LEDGER_JOBS_SECONDS", DEFAULT_INTERVAL_SECONDS))
    task = asyncio.create_task(_loop(app, interval)) if interval > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
