from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from protocol.ids import new_id
from protocol.members import Member, MemberNew
from server.demo import DemoInfo
from server.members import service as members

ID_KEY = b"k" * 32


@pytest.fixture
async def store(demo: DemoInfo) -> uuid.UUID:
    return demo.store_id


@pytest.fixture
async def other_store(conn: asyncpg.Connection, store: uuid.UUID) -> uuid.UUID:
    """A second store of the chain, in another business format (electronics)."""
    fmt = new_id()
    await conn.execute(
        "INSERT INTO business_format (id, code, name_zh, name_en) VALUES ($1, 'ELEC', '电器', 'Electronics')", fmt
    )
    sid = new_id()
    await conn.execute(
        "INSERT INTO store (id, code, name_zh, name_en, format_id) VALUES ($1, 'BJ02', '北京店', 'Beijing', $2)",
        sid,
        fmt,
    )
    return sid


async def enrol(
    conn: asyncpg.Connection, store_id: uuid.UUID, phone: str, name: str = "测试 Test", **extra: object
) -> Member:
    async with conn.transaction():
        return await members.enrol(
            conn,
            store_id=store_id,
            new=MemberNew(name=name, phone=phone, **extra),
            id_key=ID_KEY,  # type: ignore[arg-type]
        )


@pytest.fixture
async def member(conn: asyncpg.Connection, store: uuid.UUID) -> Member:
    return await enrol(conn, store, "13800000001", cards=["CARD0001"])


@pytest.fixture
async def conn2(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(db_dsn)
    try:
        yield c
    finally:
        await c.close()
