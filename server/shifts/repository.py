"""SQL for shifts and their movements."""

from __future__ import annotations

from typing import Any

import asyncpg

from protocol.payments import Movement, Shift

SHIFT_COLUMNS = "id, store_id, till_id, cashier_id, status, float_amount, opened_at, closed_at, closed_by"

SELECT_SHIFT = f"SELECT {SHIFT_COLUMNS} FROM shift WHERE id = $1"
SELECT_SHIFT_FOR_SHARE = f"SELECT {SHIFT_COLUMNS} FROM shift WHERE id = $1 FOR SHARE"
SELECT_SHIFT_FOR_UPDATE = f"SELECT {SHIFT_COLUMNS}, z_report::text AS z_report FROM shift WHERE id = $1 FOR UPDATE"
SELECT_Z_REPORT = "SELECT z_report::text FROM shift WHERE id = $1"
SELECT_OPEN_ON_TILL = f"SELECT {SHIFT_COLUMNS} FROM shift WHERE till_id = $1 AND status = 'open'"

SELECT_TILL = "SELECT id, store_id, kind, state FROM device WHERE id = $1"

INSERT_SHIFT = f"""
INSERT INTO shift (id, store_id, till_id, cashier_id, float_amount)
VALUES ($1, $2, $3, $4, $5)
RETURNING {SHIFT_COLUMNS}
"""

CLOSE_SHIFT = f"""
UPDATE shift SET status = 'closed', closed_at = now(), closed_by = $2, z_report = $3::text::jsonb
WHERE id = $1
RETURNING {SHIFT_COLUMNS}
"""

INSERT_MOVEMENT = """
INSERT INTO shift_movement (id, shift_id, kind, tender, amount, reference, note, staff_id, exception_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT DO NOTHING
RETURNING id, shift_id, kind, tender, amount, reference, at, exception_id
"""

_MOVEMENT_COLUMNS = "id, shift_id, kind, tender, amount, reference, at, exception_id"
SELECT_MOVEMENT_BY_ID = f"SELECT {_MOVEMENT_COLUMNS} FROM shift_movement WHERE id = $1"
SELECT_MOVEMENT_BY_REFERENCE = f"""
SELECT {_MOVEMENT_COLUMNS} FROM shift_movement
WHERE shift_id = $1 AND kind = $2 AND tender = $3 AND reference = $4
"""

# Cash held for and given back on exceptions is recorded as cash pay_in/pay_out linked to the exception
# (``exception_id``, see ``service.exception_cash``); the reports show it on its own line.
TOTALS = """
SELECT tender, kind, exception_id IS NOT NULL AS exception, sum(amount) AS total, count(*) AS n
FROM shift_movement WHERE shift_id = $1
GROUP BY tender, kind, exception
"""


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def to_shift(row: asyncpg.Record) -> Shift:
    return Shift(
        id=row["id"],
        store_id=row["store_id"],
        till_id=row["till_id"],
        cashier_id=row["cashier_id"],
        status=row["status"],
        float_amount=row["float_amount"],
        opened_at_ms=_ms(row["opened_at"]),
        closed_at_ms=_ms(row["closed_at"]) if row["closed_at"] else None,
        closed_by=row["closed_by"],
    )


def to_movement(row: asyncpg.Record) -> Movement:
    return Movement(
        id=row["id"],
        shift_id=row["shift_id"],
        kind=row["kind"],
        tender=row["tender"],
        amount=row["amount"],
        reference=row["reference"],
        at_ms=_ms(row["at"]),
    )
