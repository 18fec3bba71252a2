"""SQL for staff administration."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

COLUMNS = """
id, store_id, code, name, role, counter_id, active, pin_hash IS NOT NULL AS has_pin,
password_hash IS NOT NULL AS has_password, CASE WHEN locked_until > now() THEN locked_until END AS locked_until,
created_at
"""

LIST = f"SELECT {COLUMNS} FROM staff WHERE store_id = $1 ORDER BY code"
GET = f"SELECT {COLUMNS} FROM staff WHERE id = $1"
GET_FOR_UPDATE = f"SELECT {COLUMNS} FROM staff WHERE id = $1 FOR UPDATE"
CODE_TAKEN = "SELECT EXISTS (SELECT 1 FROM staff WHERE code = $1)"
COUNTER_IN_STORE = "SELECT EXISTS (SELECT 1 FROM counter WHERE id = $1 AND store_id = $2)"

INSERT = f"""
INSERT INTO staff (id, store_id, code, name, role, counter_id, pin_hash, password_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (code) DO NOTHING
RETURNING {COLUMNS}
"""

# Column names come from this fixed set only, never from the request.
UPDATABLE = ("name", "role", "counter_id", "active")

SET_CREDENTIALS = f"""
UPDATE staff SET pin_hash = coalesce($2, pin_hash), password_hash = coalesce($3, password_hash),
                 failed_attempts = 0, locked_until = NULL
WHERE id = $1
RETURNING {COLUMNS}
"""
UNLOCK = f"UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE id = $1 RETURNING {COLUMNS}"


async def list_for_store(conn: asyncpg.Connection, store_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(LIST, store_id)


async def get(conn: asyncpg.Connection, staff_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_FOR_UPDATE if for_update else GET, staff_id)


async def counter_in_store(conn: asyncpg.Connection, counter_id: uuid.UUID, store_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(COUNTER_IN_STORE, counter_id, store_id))


async def insert(conn: asyncpg.Connection, *values: Any) -> asyncpg.Record | None:
    """The new row, or None when the staff code is taken."""
    return await conn.fetchrow(INSERT, *values)


async def update(conn: asyncpg.Connection, staff_id: uuid.UUID, changes: dict[str, Any]) -> asyncpg.Record:
    if not changes or not set(changes) <= set(UPDATABLE):
        raise ValueError(f"cannot update staff columns {sorted(changes)}")
    names = list(changes)
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE staff SET {sets} WHERE id = $1 RETURNING {COLUMNS}", staff_id, *(changes[n] for n in names)
    )
    assert row is not None
    return row


async def set_credentials(
    conn: asyncpg.Connection, staff_id: uuid.UUID, pin_hash: str | None, password_hash: str | None
) -> asyncpg.Record:
    row = await conn.fetchrow(SET_CREDENTIALS, staff_id, pin_hash, password_hash)
    assert row is not None
    return row


async def unlock(conn: asyncpg.Connection, staff_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(UNLOCK, staff_id)
    assert row is not None
    return row
