"""SQL for sign-in and sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

STAFF_FOR_SIGN_IN = """
SELECT s.id, s.store_id, s.code, s.name, s.role, s.counter_id, s.pin_hash, s.password_hash,
       s.failed_attempts, s.locked_until, s.active, st.code AS store_code, now() AS now
FROM staff s JOIN store st ON st.id = s.store_id
WHERE s.code = $1
FOR UPDATE OF s
"""

STAFF_BY_ID = """
SELECT s.id, s.store_id, s.code, s.name, s.role, s.counter_id, s.active, st.code AS store_code, now() AS now
FROM staff s JOIN store st ON st.id = s.store_id
WHERE s.id = $1
"""

DEVICE_BY_TOKEN = "SELECT id, store_id, kind, state FROM device WHERE token_hash = $1"
DEVICE_STATE = "SELECT state FROM device WHERE id = $1"

RECORD_FAILURE = "UPDATE staff SET failed_attempts = $2, locked_until = $3 WHERE id = $1"
CLEAR_FAILURES = "UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE id = $1 AND failed_attempts <> 0"

INSERT_REFRESH = """
INSERT INTO refresh_token (token_hash, staff_id, device_id, family, expires_at) VALUES ($1, $2, $3, $4, $5)
"""

REFRESH_FOR_UPDATE = """
SELECT token_hash, staff_id, device_id, family, expires_at, used_at, revoked_at, now() AS now
FROM refresh_token WHERE token_hash = $1
FOR UPDATE
"""

USE_REFRESH = "UPDATE refresh_token SET used_at = now() WHERE token_hash = $1"
REVOKE_FAMILY = "UPDATE refresh_token SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL"
REVOKE_STAFF = "UPDATE refresh_token SET revoked_at = now() WHERE staff_id = $1 AND revoked_at IS NULL"
REVOKE_DEVICE = "UPDATE refresh_token SET revoked_at = now() WHERE device_id = $1 AND revoked_at IS NULL"


async def staff_for_sign_in(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(STAFF_FOR_SIGN_IN, code)


async def staff_by_id(conn: asyncpg.Connection, staff_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(STAFF_BY_ID, staff_id)


async def device_by_token_hash(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(DEVICE_BY_TOKEN, token_hash)


async def device_state(conn: asyncpg.Connection, device_id: uuid.UUID) -> str | None:
    state: str | None = await conn.fetchval(DEVICE_STATE, device_id)
    return state


async def record_failure(
    conn: asyncpg.Connection, staff_id: uuid.UUID, failed: int, locked_until: datetime | None
) -> None:
    await conn.execute(RECORD_FAILURE, staff_id, failed, locked_until)


async def clear_failures(conn: asyncpg.Connection, staff_id: uuid.UUID) -> None:
    await conn.execute(CLEAR_FAILURES, staff_id)


async def insert_refresh(
    conn: asyncpg.Connection,
    token_hash: bytes,
    staff_id: uuid.UUID,
    device_id: uuid.UUID | None,
    family: uuid.UUID,
    expires_at: datetime,
) -> None:
    await conn.execute(INSERT_REFRESH, token_hash, staff_id, device_id, family, expires_at)


async def refresh_for_update(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(REFRESH_FOR_UPDATE, token_hash)


async def use_refresh(conn: asyncpg.Connection, token_hash: bytes) -> None:
    await conn.execute(USE_REFRESH, token_hash)


async def revoke_family(conn: asyncpg.Connection, family: uuid.UUID) -> None:
    await conn.execute(REVOKE_FAMILY, family)


async def revoke_staff_sessions(conn: asyncpg.Connection, staff_id: uuid.UUID) -> None:
    """End every session of a staff member (deactivation, new credentials)."""
    await conn.execute(REVOKE_STAFF, staff_id)


async def revoke_device_sessions(conn: asyncpg.Connection, device_id: uuid.UUID) -> None:
    """End every session bound to a device (revocation)."""
    await conn.execute(REVOKE_DEVICE, device_id)
