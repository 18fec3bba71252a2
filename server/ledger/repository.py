"""SQL of the ledger. jsonb travels as text (``$n::text::jsonb`` / ``col::text``) so these statements
work on any connection, with or without the pool's json codecs."""

from __future__ import annotations

INSERT_MOVEMENT = """
INSERT INTO ledger_movement (id, kind, store_id, member_id, reason, reference, campaign_id, request, staff_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

MOVEMENT_BY_ID = "SELECT kind, request::text AS request, result::text AS result FROM ledger_movement WHERE id = $1"

SET_RESULT = "UPDATE ledger_movement SET result = $2::text::jsonb WHERE id = $1"

STORE_FORMAT = "SELECT format_id FROM store WHERE id = $1"

SCOPE_OF = "SELECT scope FROM account_scope WHERE kind = $1"

MEMBER_ROW = """
SELECT m.id, m.state, m.merged_into,
       EXISTS (SELECT 1 FROM member_store s WHERE s.member_id = m.id AND s.store_id = $2) AS known_here
FROM member m WHERE m.id = $1
"""

ENSURE_MEMBER_ACCOUNT = """
INSERT INTO ledger_account (id, member_id, kind, held, store_id, format_id)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (member_id, kind, held, store_id, format_id, system_code) DO NOTHING
"""

MEMBER_ACCOUNT = """
SELECT id FROM ledger_account
WHERE member_id = $1 AND kind = $2 AND held = $3
  AND store_id IS NOT DISTINCT FROM $4 AND format_id IS NOT DISTINCT FROM $5 AND system_code IS NULL
"""

ENSURE_SYSTEM_ACCOUNT = """
INSERT INTO ledger_account (id, kind, store_id, system_code)
VALUES ($1, $2, $3, $4)
ON CONFLICT (member_id, kind, held, store_id, format_id, system_code) DO NOTHING
"""

SYSTEM_ACCOUNT = """
SELECT id FROM ledger_account
WHERE member_id IS NULL AND kind = $1 AND held = false AND store_id IS NOT DISTINCT FROM $2
  AND format_id IS NULL AND system_code = $3
"""

# The row lock serialises concurrent spends of one balance; the WHERE re-checks after the wait, so the
# second of two spenders sees the first one's effect and finds nothing left.
APPLY_TO_MEMBER_ACCOUNT = """
UPDATE ledger_account SET balance = balance + $2
WHERE id = $1 AND balance + $2 >= 0
RETURNING balance
"""

ACCOUNT_KIND = "SELECT member_id, kind FROM ledger_account WHERE id = $1"

INSERT_ENTRIES = """
INSERT INTO ledger_entry (movement_id, account_id, amount)
SELECT $1, a, n FROM unnest($2::uuid[], $3::bigint[]) AS t(a, n)
"""

MEMBER_ACCOUNTS = """
SELECT a.id, a.kind, a.held, a.store_id, a.format_id, a.balance
FROM ledger_account a
WHERE a.member_id = ANY($1::uuid[])
ORDER BY a.kind, a.held, a.store_id NULLS FIRST, a.format_id NULLS FIRST
"""

# Members whose entries belong to this member's statement: itself and every record merged into it.
MERGED_FAMILY = """
WITH RECURSIVE fam(id) AS (
    SELECT $1::uuid
    UNION
    SELECT m.id FROM member m JOIN fam ON m.merged_into = fam.id
)
SELECT id FROM fam
"""

STATEMENT = """
SELECT e.id AS entry_id, e.movement_id, e.at, a.kind AS account, a.held, e.amount,
       mv.kind AS movement, mv.reason, mv.reference, mv.store_id, mv.campaign_id
FROM ledger_entry e
JOIN ledger_account a ON a.id = e.account_id
JOIN ledger_movement mv ON mv.id = e.movement_id
WHERE a.member_id = ANY($1::uuid[]) AND ($2::bigint IS NULL OR e.id < $2)
ORDER BY e.id DESC
LIMIT $3
"""

# --- e-coin lots -----------------------------------------------------------------------------------

INSERT_LOT = """
INSERT INTO ecoin_lot (id, account_id, movement_id, campaign_id, amount, remaining, expires_at, store_ids, categories)
VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)
"""

# Soonest-expiring first; a lot limited to stores or categories is usable only where it says.
USABLE_LOTS = """
SELECT id, remaining FROM ecoin_lot
WHERE account_id = $1 AND remaining > 0 AND (expires_at IS NULL OR expires_at > $2)
  AND (store_ids IS NULL OR $3::uuid = ANY(store_ids))
  AND (categories IS NULL OR ($4::text[] IS NOT NULL AND $4::text[] <@ categories))
ORDER BY expires_at NULLS LAST, created_at, id
FOR UPDATE
"""

TAKE_FROM_LOT = "UPDATE ecoin_lot SET remaining = remaining - $2 WHERE id = $1"
GIVE_TO_LOT = "UPDATE ecoin_lot SET remaining = remaining + $2 WHERE id = $1"

LOT_ROW = "SELECT expires_at, store_ids, categories, campaign_id FROM ecoin_lot WHERE id = $1"

LOTS_OF_ACCOUNT = """
SELECT id, remaining, expires_at, store_ids, categories, campaign_id FROM ecoin_lot
WHERE account_id = $1 AND remaining > 0 ORDER BY expires_at NULLS LAST, id FOR UPDATE
"""

EXPIRED_LOTS = """
SELECT l.id, l.account_id, l.remaining, a.member_id
FROM ecoin_lot l JOIN ledger_account a ON a.id = l.account_id
WHERE l.remaining > 0 AND l.expires_at <= $1
ORDER BY l.expires_at, l.id
LIMIT $2
FOR UPDATE OF l SKIP LOCKED
"""

MARK_LOT_EXPIRED = "UPDATE ecoin_lot SET remaining = 0, expired_at = $2 WHERE id = $1"

# --- holds -----------------------------------------------------------------------------------------

INSERT_HOLD = """
INSERT INTO ledger_hold (id, store_id, member_id, kind, available_account_id, held_account_id, amount,
                         expires_at, device_id, lots, reference)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11)
"""

HOLD_FOR_UPDATE = """
SELECT id, store_id, member_id, kind, available_account_id, held_account_id, amount, captured, refunded,
       state, expires_at, device_id, lots::text AS lots, reference
FROM ledger_hold WHERE id = $1 FOR UPDATE
"""

UPDATE_HOLD = """
UPDATE ledger_hold SET captured = $2, state = $3, lots = $4::text::jsonb,
       closed_at = CASE WHEN $3 = 'open' THEN NULL ELSE now() END
WHERE id = $1
"""

ADD_REFUNDED = "UPDATE ledger_hold SET refunded = refunded + $2 WHERE id = $1"

EXPIRED_HOLDS = """
SELECT id FROM ledger_hold
WHERE state = 'open' AND expires_at + CASE WHEN device_id IS NULL THEN interval '0' ELSE $2::interval END <= $1
ORDER BY expires_at LIMIT $3
"""

OPEN_HOLDS_OF = "SELECT count(*) FROM ledger_hold WHERE member_id = $1 AND state = 'open'"

# --- invariants ------------------------------------------------------------------------------------

BAD_BALANCES = """
SELECT a.id, a.kind, a.held, a.balance, coalesce(s.total, 0) AS total
FROM ledger_account a
LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_entry GROUP BY account_id) s ON s.account_id = a.id
WHERE a.member_id IS NOT NULL AND a.balance <> coalesce(s.total, 0)
"""

COUNT_MEMBER_ACCOUNTS = "SELECT count(*) FROM ledger_account WHERE member_id IS NOT NULL"

UNBALANCED_MOVEMENTS = """
SELECT e.movement_id, a.kind, sum(e.amount) AS total
FROM ledger_entry e JOIN ledger_account a ON a.id = e.account_id
GROUP BY e.movement_id, a.kind
HAVING sum(e.amount) <> 0
"""

COUNT_MOVEMENTS = "SELECT count(*) FROM ledger_movement"

NEGATIVE_BALANCES = "SELECT id, balance FROM ledger_account WHERE member_id IS NOT NULL AND balance < 0"

LOTS_VS_BALANCE = """
SELECT a.id, a.balance, coalesce(l.total, 0) AS lots
FROM ledger_account a
LEFT JOIN (SELECT account_id, sum(remaining) AS total FROM ecoin_lot GROUP BY account_id) l ON l.account_id = a.id
WHERE a.member_id IS NOT NULL AND a.kind = 'e_coin' AND NOT a.held AND a.balance <> coalesce(l.total, 0)
"""

HOLDS_VS_HELD = """
SELECT a.id, a.balance, coalesce(h.total, 0) AS holds
FROM ledger_account a
LEFT JOIN (SELECT held_account_id, sum(amount - captured) AS total FROM ledger_hold WHERE state = 'open'
           GROUP BY held_account_id) h ON h.held_account_id = a.id
WHERE a.member_id IS NOT NULL AND a.held AND a.balance <> coalesce(h.total, 0)
"""
