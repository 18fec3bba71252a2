from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from protocol.ids import new_id
from server.app import create_app
from server.demo import DemoInfo
from server.payments.service import PaymentsConfig
from server.payments.simulator import SimulatorProvider
from server.settings import Settings
from tests.auth_helpers import bearer, token_for

# Short timings so a timeout costs a fraction of a second; the simulator hangs far longer than
# the server waits, as a lost answer does.
FAST = PaymentsConfig(
    call_timeout_s=0.3,
    recheck_s=0.0,
    stale_pending_s=0.5,
    reconcile_every_s=3600.0,
    sim_hang_s=5.0,
    sim_unknown_settle_s=0.0,
)


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(db_dsn, min_size=1, max_size=6)
    assert p is not None
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
def simulator(pool: asyncpg.Pool) -> SimulatorProvider:
    return SimulatorProvider(pool, hang_s=FAST.sim_hang_s, unknown_settle_s=0.0)


async def make_client(db_dsn: str, settings: Settings, config: PaymentsConfig) -> AsyncTestClient[Any]:
    app = create_app(settings, dsn=db_dsn)
    app.state.payments_config = config
    return AsyncTestClient(app=app)


@pytest.fixture
async def pay_client(db_dsn: str, settings: Settings, demo: DemoInfo) -> AsyncIterator[AsyncTestClient[Any]]:
    async with await make_client(db_dsn, settings, FAST) as c:
        yield c


async def headers(conn: asyncpg.Connection, settings: Settings, staff_code: str) -> dict[str, str]:
    return bearer(await token_for(conn, staff_code, settings.secret_key))


async def other_store_staff(conn: asyncpg.Connection, role: str = "supervisor") -> str:
    """A second store with one staff member; returns the staff code."""
    fmt = await conn.fetchval("SELECT id FROM business_format LIMIT 1")
    store = new_id()
    await conn.execute(
        "INSERT INTO store (id, code, name_zh, name_en, format_id) VALUES ($1, 'BJ02', '北京店', 'Beijing', $2)",
        store,
        fmt,
    )
    code = f"X{uuid.uuid4().hex[:6]}"
    await conn.execute(
        "INSERT INTO staff (id, store_id, code, name, role) VALUES ($1, $2, $3, 'Other', $4)",
        new_id(),
        store,
        code,
        role,
    )
    return code
