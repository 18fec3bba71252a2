"""Test shortcuts for identity: mint a token for a staff member, activate a device directly.

These stand in only for the sign-in round trip; the guards they pass through are the real ones.
"""

from __future__ import annotations

import time
import uuid

import asyncpg

from server.auth.tokens import Claims, digest, random_secret, sign


async def token_for(conn: asyncpg.Connection, staff_code: str, secret: str, device_id: uuid.UUID | None = None) -> str:
    row = await conn.fetchrow("SELECT id, store_id, role FROM staff WHERE code = $1", staff_code)
    assert row is not None, staff_code
    claims = Claims(sub=row["id"], store=row["store_id"], role=row["role"], exp=int(time.time()) + 900, dev=device_id)
    return sign(claims, secret)


async def activate_device(conn: asyncpg.Connection, label: str) -> tuple[uuid.UUID, str]:
    """Mark a demo device enrolled and return (device_id, device token)."""
    token = random_secret()
    device_id = await conn.fetchval(
        "UPDATE device SET state = 'active', token_hash = $2, enrolled_at = now() WHERE label = $1 RETURNING id",
        label,
        digest(token),
    )
    assert device_id is not None, label
    return device_id, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
