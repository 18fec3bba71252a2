"""Privileged actions into the append-only audit log (never personal data in ``details``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

INSERT_AUDIT = """
INSERT INTO audit_log (store_id, staff_id, device_id, action, object_type, object_id, details)
VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)
"""


async def audit(
    conn: asyncpg.Connection,
    *,
    store_id: uuid.UUID | None,
    staff_id: uuid.UUID | None,
    action: str,
    object_type: str,
    object_id: Any,
    details: dict[str, Any] | None = None,
    device_id: uuid.UUID | None = None,
) -> None:
    await conn.execute(
        INSERT_AUDIT,
        store_id,
        staff_id,
        device_id,
        action,
        object_type,
        str(object_id),
        json.dumps(details or {}, default=str, ensure_ascii=False),
    )
