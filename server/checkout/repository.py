"""SQL for checkouts, tenders and refunds (asyncpg, no ORM).

JSON columns are written as text and cast, and read back as text, so these work on any connection
whatever its codecs.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec

from server.tickets.repository import TICKET_COLUMNS

GET_CHECKOUT = """
SELECT id, store_id, mode, state, member_id, currency, total, refunded, shift_id,
       request::text AS request, result::text AS result
FROM checkout WHERE id = $1
"""
LOCK_CHECKOUT = GET_CHECKOUT + " FOR UPDATE"

INSERT_CHECKOUT = """
INSERT INTO checkout (id, store_id, mode, device_id, staff_id, shift_id, member_id, currency, total, tendered,
                      change, request, result)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb, $13::text::jsonb)
"""

INSERT_CHECKOUT_TICKET = """
INSERT INTO checkout_ticket (checkout_id, state, ticket_id, seq, store_id, counter_id, number, amount)
VALUES ($1, 'settled', $2, $3, $4, $5, $6, $7)
"""

INSERT_TENDER = """
INSERT INTO tender (id, checkout_id, seq, kind, tendered, applied, change, payment_ref, masked, ledger_ref)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""

TENDER_USED = "SELECT checkout_id FROM tender WHERE id = ANY($1::uuid[]) LIMIT 1"

CHECKOUT_TICKETS = """
SELECT ticket_id, seq, counter_id, number, amount FROM checkout_ticket WHERE checkout_id = $1 ORDER BY seq
"""

TENDERS = """
SELECT id, seq, kind, tendered, applied, change, refunded, payment_ref, ledger_ref
FROM tender WHERE checkout_id = $1 ORDER BY seq
"""

PRODUCT_CATEGORIES = "SELECT id, category FROM product WHERE id = ANY($1::uuid[])"

RETURNED = """
SELECT rl.ticket_id, rl.line_no, sum(rl.qty)::int AS qty
FROM refund_line rl JOIN refund r ON r.id = rl.refund_id
WHERE r.checkout_id = $1
GROUP BY rl.ticket_id, rl.line_no
"""

GET_REFUND = """
SELECT id, checkout_id, store_id, request::text AS request, result::text AS result FROM refund WHERE id = $1
"""

INSERT_REFUND = """
INSERT INTO refund (id, checkout_id, store_id, staff_id, device_id, approved_by, shift_id, amount, reason,
                    request, result)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11::text::jsonb)
"""

INSERT_REFUND_LINE = """
INSERT INTO refund_line (refund_id, ticket_id, line_no, counter_id, qty, amount) VALUES ($1, $2, $3, $4, $5, $6)
"""

INSERT_REFUND_TENDER = """
INSERT INTO refund_tender (refund_id, tender_id, kind, amount, refund_ref) VALUES ($1, $2, $3, $4, $5)
"""

ADD_TENDER_REFUNDED = "UPDATE tender SET refunded = refunded + $2 WHERE id = $1"
ADD_CHECKOUT_REFUNDED = "UPDATE checkout SET refunded = refunded + $2 WHERE id = $1"

# Step 1 of the lock order (``server.events``), the settling transaction's advisory keys in key order:
# the checkout id (the same checkout sent twice at once: the second attempt's transaction waits here for
# the first one's) and the member, if any (checkouts of one member settle one at a time: their ledger
# work, spending and earning, then never takes the member's accounts in opposite orders).
LOCK_CHECKOUT_KEYS = """
SELECT count(pg_advisory_xact_lock(k))
FROM (SELECT DISTINCT k FROM unnest(ARRAY[hashtextextended('ft-checkout:' || $1::uuid::text, 0),
                                          hashtextextended('ft-checkout-member:' || $2::uuid::text, 0)]) AS k
      WHERE k IS NOT NULL ORDER BY 1) s
"""

# Step 2: the tickets FOR UPDATE in id order (they stay issued or paid by this checkout until it
# commits), and whether the checkout id was settled meanwhile (read after step 1's wait).
LOCK_TICKETS = f"""
SELECT {TICKET_COLUMNS}, EXISTS (SELECT 1 FROM checkout WHERE id = $2) AS settled
FROM ticket t WHERE t.id = ANY($1::uuid[]) ORDER BY t.id FOR UPDATE OF t
"""

# Serialises refunds of one checkout across processes while provider refunds are in flight (a
# session lock: the provider is called outside any transaction).
LOCK_REFUNDS = "SELECT pg_advisory_lock(hashtextextended('ft-refund:' || $1::text, 0))"
UNLOCK_REFUNDS = "SELECT pg_advisory_unlock(hashtextextended('ft-refund:' || $1::text, 0))"


def to_json(value: Any) -> str:
    """Struct or builtins as JSON text for a jsonb column."""
    return msgspec.json.encode(value).decode()


async def categories(conn: asyncpg.Connection, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    return {r["id"]: r["category"] for r in await conn.fetch(PRODUCT_CATEGORIES, product_ids)}


async def returned_qty(conn: asyncpg.Connection, checkout_id: uuid.UUID) -> dict[tuple[uuid.UUID, int], int]:
    """Units already returned per (ticket, line) of a checkout."""
    return {(r["ticket_id"], r["line_no"]): r["qty"] for r in await conn.fetch(RETURNED, checkout_id)}


# Card and wallet payments taken for a checkout that never settled (the customer left after another
# tender was declined, or the till never retried) and not given back yet.
STRAY_PAYMENTS = """
SELECT p.* FROM payment p
WHERE p.store_id = $1 AND p.status = 'approved' AND p.refunded < p.amount
  AND p.reference LIKE 'checkout:%' AND p.created_at < now() - $2::interval
  AND NOT EXISTS (SELECT 1 FROM tender t WHERE t.id = p.id)
ORDER BY p.created_at
LIMIT 500
"""

BY_RECEIPT_NO = """
SELECT id FROM checkout
WHERE store_id = $1 AND settled_at > now() - interval '3 years' AND result->>'receipt_no' = $2
"""
