"""Audit rows for payments and shifts: one function, so callers do not change with the audit trail."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from server.audit import record


async def audit(
    conn: asyncpg.Connection,
    *,
    store_id: uuid.UUID | None,
    staff_id: uuid.UUID | None,
    device_id: uuid.UUID | None,
    action: str,
    object_type: str,
    object_id: Any,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry (inside the caller's transaction, if there is one)."""
    await record(
        conn,
        store_id=store_id,
        staff_id=staff_id,
        device_id=device_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
    )
