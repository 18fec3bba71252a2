"""The asyncpg pool, opened in the app's lifespan, and a per-request connection dependency."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg
from litestar import Litestar
from litestar.datastructures import State

Pool = asyncpg.Pool
Connection = asyncpg.Connection


async def _init(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init)
    assert pool is not None
    return pool


def pool_lifespan(dsn: str, min_size: int, max_size: int) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await create_pool(dsn, min_size, max_size)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    return lifespan


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """A pooled connection for one request; services open their own transactions."""
    pool: asyncpg.Pool = state.pool
    async with pool.acquire() as conn:
        yield cast(asyncpg.Connection, conn)
