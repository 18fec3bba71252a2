"""SQL of the till's settings and allowances (asyncpg, no ORM)."""

from __future__ import annotations

STORE = "SELECT id, code, name_zh, name_en, currency, timezone FROM store WHERE id = $1"

OPEN_ALLOWANCES = """
SELECT id, member_id, kind, amount, captured, state, expires_at
FROM ledger_hold
WHERE device_id = $1 AND store_id = $2 AND state = 'open' AND reference LIKE 'allowance:%'
ORDER BY created_at, id
"""
