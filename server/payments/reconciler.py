"""The background reconciler: resolves payments whose outcome is unknown by querying the provider.

It never charges. Every server process runs one; the per-payment advisory lock keeps two of them
(or a reconciler and a cashier's retry) from asking about the same payment at once.

``reconciler_lifespan`` also installs the payment provider on ``app.state.payment_provider`` (the
simulator unless one was set before start) and the timings on ``app.state.payments_config``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, cast

import asyncpg
from litestar import Litestar

from server.payments import repository as repo
from server.payments.provider import PaymentProvider
from server.payments.service import PaymentsConfig, reconcile_one
from server.payments.simulator import SimulatorProvider

log = logging.getLogger(__name__)


async def reconcile_once(
    pool: asyncpg.Pool, provider: PaymentProvider, config: PaymentsConfig, limit: int = 50
) -> dict[str, int]:
    """One pass over the payments due for a check; returns how many ended in each status."""
    async with pool.acquire() as proxy:
        conn = cast(asyncpg.Connection, proxy)
        ids = [r["id"] for r in await conn.fetch(repo.DUE_FOR_CHECK, timedelta(seconds=config.stale_pending_s), limit)]
        counts: dict[str, int] = {}
        for payment_id in ids:
            status = await reconcile_one(conn, provider, payment_id, config)
            if status is not None:
                counts[status] = counts.get(status, 0) + 1
    return counts


async def run_reconciler(pool: asyncpg.Pool, provider: PaymentProvider, config: PaymentsConfig) -> None:
    while True:
        try:
            counts = await reconcile_once(pool, provider, config)
            if counts:
                log.info("payments reconciled: %s", counts)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("payment reconciler: %s", exc)
        except Exception:
            log.exception("payment reconciler pass failed")
        await asyncio.sleep(config.reconcile_every_s)


def config_from_env(env: dict[str, str] | None = None) -> PaymentsConfig:
    e = os.environ if env is None else env
    d = PaymentsConfig()
    return PaymentsConfig(
        call_timeout_s=float(e.get("FT_PAYMENT_TIMEOUT_S", d.call_timeout_s)),
        recheck_s=float(e.get("FT_PAYMENT_RECHECK_S", d.recheck_s)),
        stale_pending_s=float(e.get("FT_PAYMENT_STALE_S", d.stale_pending_s)),
        reconcile_every_s=float(e.get("FT_PAYMENT_RECONCILE_S", d.reconcile_every_s)),
        sim_hang_s=float(e.get("FT_SIM_HANG_S", d.sim_hang_s)),
        sim_unknown_settle_s=float(e.get("FT_SIM_UNKNOWN_SETTLE_S", d.sim_unknown_settle_s)),
    )


@asynccontextmanager
async def reconciler_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Install the provider and run the reconciler for the app's lifetime (after the pool)."""
    config: PaymentsConfig = getattr(app.state, "payments_config", None) or config_from_env()
    app.state.payments_config = config
    provider: Any = getattr(app.state, "payment_provider", None)
    if provider is None:
        provider = SimulatorProvider(
            app.state.pool, hang_s=config.sim_hang_s, unknown_settle_s=config.sim_unknown_settle_s
        )
        app.state.payment_provider = provider
    task = asyncio.create_task(run_reconciler(app.state.pool, provider, config), name="payment-reconciler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
