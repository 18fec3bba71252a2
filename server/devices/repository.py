"""SQL for devices and their enrollment codes."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

DEVICE_COLUMNS = """
d.id, d.store_id, d.kind, d.label, d.counter_id, d.state, d.public_key, d.last_seen_at, d.enrolled_at,
d.revoked_at, d.created_at
"""

LIST = f"SELECT {DEVICE_COLUMNS} FROM device d WHERE d.store_id = $1 ORDER BY d.kind, d.label, d.id"
GET = f"SELECT {DEVICE_COLUMNS} FROM device d WHERE d.id = $1"
GET_FOR_UPDATE = f"SELECT {DEVICE_COLUMNS} FROM device d WHERE d.id = $1 FOR UPDATE"
DIRECTORY = f"""
SELECT {DEVICE_COLUMNS} FROM device d WHERE d.store_id = $1 AND d.state = 'active' ORDER BY d.kind, d.label, d.id
"""

INSERT = """
INSERT INTO device (id, store_id, kind, label, counter_id) VALUES ($1, $2, $3, $4, $5)
"""

COUNTER_IN_STORE = "SELECT EXISTS (SELECT 1 FROM counter WHERE id = $1 AND store_id = $2)"

DROP_UNUSED_CODES = "DELETE FROM enrollment_code WHERE device_id = $1 AND used_at IS NULL"
INSERT_CODE = """
INSERT INTO enrollment_code (code_hash, device_id, expires_at, created_by)
VALUES ($1, $2, now() + make_interval(mins => $3), $4)
RETURNING expires_at
"""
CODE_FOR_UPDATE = """
SELECT c.device_id, c.expires_at, c.used_at, now() AS now
FROM enrollment_code c WHERE c.code_hash = $1
FOR UPDATE
"""
USE_CODE = "UPDATE enrollment_code SET used_at = now() WHERE code_hash = $1"
EXPIRE_CODES = """
UPDATE enrollment_code SET expires_at = least(expires_at, now()) WHERE device_id = $1 AND used_at IS NULL
"""

ACTIVATE = f"""
UPDATE device d SET state = 'active', public_key = $2, token_hash = $3, enrolled_at = now()
WHERE d.id = $1
RETURNING {DEVICE_COLUMNS}, (SELECT code FROM store WHERE id = d.store_id) AS store_code,
    (SELECT code FROM counter WHERE id = d.counter_id) AS counter_code,
    -- Its place among the store's devices of its kind at its counter, by creation (devices are never
    -- deleted, so the place never changes): the 1 of H1.
    (SELECT count(*) FROM device o
     WHERE o.store_id = d.store_id AND o.kind = d.kind AND o.counter_id IS NOT DISTINCT FROM d.counter_id
       AND (o.created_at, o.id) <= (d.created_at, d.id)) AS device_ordinal
"""
REVOKE = f"""
UPDATE device d SET state = 'revoked', revoked_at = now() WHERE d.id = $1 RETURNING {DEVICE_COLUMNS}
"""


async def list_for_store(conn: asyncpg.Connection, store_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(LIST, store_id)


async def get(conn: asyncpg.Connection, device_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_FOR_UPDATE if for_update else GET, device_id)


async def directory(conn: asyncpg.Connection, store_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(DIRECTORY, store_id)


async def insert(
    conn: asyncpg.Connection,
    device_id: uuid.UUID,
    store_id: uuid.UUID,
    kind: str,
    label: str,
    counter_id: uuid.UUID | None,
) -> None:
    await conn.execute(INSERT, device_id, store_id, kind, label, counter_id)


async def counter_in_store(conn: asyncpg.Connection, counter_id: uuid.UUID, store_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(COUNTER_IN_STORE, counter_id, store_id))


async def replace_code(
    conn: asyncpg.Connection, code_hash: bytes, device_id: uuid.UUID, minutes: int, created_by: uuid.UUID
) -> datetime:
    """Make ``code_hash`` the device's only usable enrollment code; return its expiry."""
    await conn.execute(DROP_UNUSED_CODES, device_id)
    expires: datetime = await conn.fetchval(INSERT_CODE, code_hash, device_id, minutes, created_by)
    return expires


async def code_for_update(conn: asyncpg.Connection, code_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(CODE_FOR_UPDATE, code_hash)


async def use_code(conn: asyncpg.Connection, code_hash: bytes) -> None:
    await conn.execute(USE_CODE, code_hash)


async def expire_codes(conn: asyncpg.Connection, device_id: uuid.UUID) -> None:
    await conn.execute(EXPIRE_CODES, device_id)


async def activate(
    conn: asyncpg.Connection, device_id: uuid.UUID, public_key: bytes, token_hash: bytes
) -> asyncpg.Record:
    row = await conn.fetchrow(ACTIVATE, device_id, public_key, token_hash)
    assert row is not None
    return row


async def revoke(conn: asyncpg.Connection, device_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(REVOKE, device_id)
    assert row is not None
    return row
