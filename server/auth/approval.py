"""A supervisor's approval given at a till: their staff code and PIN typed in for a cashier (refunds over
the limit, the exception queue). Wrong PINs count toward the supervisor's lockout like a sign-in."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

import asyncpg

from protocol.errors import Codes
from server.auth import repository as auth_repo
from server.auth.guards import SUPERVISORS
from server.auth.passwords import check_secret
from server.errors import AppError
from server.settings import Settings

SUPERVISOR = """
SELECT id, store_id, role, pin_hash, active, locked_until > now() AS locked FROM staff WHERE code = $1
"""


async def approver(
    conn: asyncpg.Connection, settings: Settings, store_id: uuid.UUID, staff_code: str, pin: str
) -> uuid.UUID | None:
    """The approving supervisor's staff id, or None when the code and PIN are not those of an active
    supervisor or manager of the store (an admin of any store); the caller records and refuses that.
    A wrong PIN counts toward the supervisor's lockout; a locked-out supervisor is refused outright."""
    row = await conn.fetchrow(SUPERVISOR, staff_code)
    pin_ok = await asyncio.to_thread(check_secret, row["pin_hash"] if row else None, pin)
    if row is not None and row["locked"]:
        raise AppError(Codes.LOCKED_OUT, "This supervisor is locked out after wrong PINs; ask another.", status=423)
    eligible = (
        row is not None
        and row["active"]
        and row["role"] in SUPERVISORS
        and (row["store_id"] == store_id or row["role"] == "admin")
    )
    if row is None or not (pin_ok and eligible):
        if row is not None and not pin_ok:
            await _count_failure(conn, row, settings)
        return None
    await auth_repo.clear_failures(conn, row["id"])
    return cast(uuid.UUID, row["id"])


async def _count_failure(conn: asyncpg.Connection, row: asyncpg.Record, settings: Settings) -> None:
    failed = int(await conn.fetchval("SELECT failed_attempts FROM staff WHERE id = $1", row["id"])) + 1
    until = None
    if failed >= settings.lockout_attempts:
        until, failed = datetime.now(UTC) + timedelta(minutes=settings.lockout_minutes), 0
    await auth_repo.record_failure(conn, row["id"], failed, until)
