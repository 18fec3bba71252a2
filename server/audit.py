"""The append-only audit log: who did what, when, from which device.

Call ``record`` inside the transaction of the change it describes, so the entry exists exactly when
the change does. The table refuses updates and deletes (migration 0001).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

INSERT = """
INSERT INTO audit_log (store_id, staff_id, device_id, action, object_type, object_id, details)
VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)
"""


async def record(
    conn: asyncpg.Connection,
    *,
    store_id: uuid.UUID | None,
    staff_id: uuid.UUID | None,
    device_id: uuid.UUID | None,
    action: str,
    object_type: str = "",
    object_id: Any = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry. ``action`` is a dotted verb such as ``device.revoked``; ``details`` must
    not contain secrets or unmasked personal data."""
    await conn.execute(
        INSERT,
        store_id,
        staff_id,
        device_id,
        action,
        object_type,
        "" if object_id is None else str(object_id),
        json.dumps(details or {}, default=str, ensure_ascii=False),
    )
