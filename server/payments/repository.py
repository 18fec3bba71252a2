"""SQL for payments, attempts and refunds."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from protocol.payments import Payment, PaymentRefund

# Session-level advisory locks in this namespace guard "one call to the provider per payment at a
# time" across processes; a crashed process's lock goes with its connection.
LOCK_NAMESPACE = 0x4654_5059  # "FTPY"

TRY_LOCK = "SELECT pg_try_advisory_lock($1, hashtext($2::text))"
UNLOCK = "SELECT pg_advisory_unlock($1, hashtext($2::text))"

SELECT_PAYMENT = "SELECT * FROM payment WHERE id = $1"

INSERT_PAYMENT = """
INSERT INTO payment (id, store_id, tender, amount, currency, provider, status, reference, staff_id, device_id)
VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9)
ON CONFLICT (id) DO NOTHING
"""

START_CHARGE = """
UPDATE payment SET status = 'pending', attempts = attempts + 1, last4 = coalesce($2, last4),
       updated_at = now(), next_check_at = now() + $3::interval
WHERE id = $1
"""

INSERT_ATTEMPT = "INSERT INTO payment_attempt (payment_id, op) VALUES ($1, $2) RETURNING id"

FINISH_ATTEMPT = """
UPDATE payment_attempt SET finished_at = now(), outcome = $2, detail = $3::text::jsonb WHERE id = $1
"""

RECORD_OUTCOME = """
UPDATE payment SET status = $2, decline_reason = $3, provider_ref = coalesce($4, provider_ref),
       token = coalesce($5, token), last4 = coalesce($6, last4), updated_at = now(),
       resolved_at = CASE WHEN $2 IN ('approved', 'declined', 'failed') THEN now() END,
       next_check_at = CASE WHEN $2 IN ('pending', 'unknown') THEN now() + $7::interval END
WHERE id = $1
RETURNING *
"""

DUE_FOR_CHECK = """
SELECT id FROM payment
WHERE (status = 'unknown' AND next_check_at <= now())
   OR (status = 'pending' AND updated_at <= now() - $1::interval)
ORDER BY next_check_at NULLS FIRST
LIMIT $2
"""

LIST_UNRESOLVED = """
SELECT * FROM payment WHERE store_id = $1 AND status IN ('pending', 'unknown') ORDER BY created_at LIMIT 500
"""

SELECT_REFUND = "SELECT * FROM payment_refund WHERE id = $1"

INSERT_REFUND = """
INSERT INTO payment_refund (id, payment_id, amount, status, reason, staff_id)
VALUES ($1, $2, $3, 'pending', $4, $5)
"""

FINISH_REFUND = """
UPDATE payment_refund SET status = $2, provider_ref = $3,
       resolved_at = CASE WHEN $2 = 'unknown' THEN NULL ELSE now() END
WHERE id = $1
RETURNING *
"""

ADD_REFUNDED = "UPDATE payment SET refunded = refunded + $2, updated_at = now() WHERE id = $1"

REFUNDS_IN_FLIGHT = """
SELECT coalesce(sum(amount), 0) FROM payment_refund
WHERE payment_id = $1 AND status IN ('pending', 'unknown') AND id <> $2
"""


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000)


def to_payment(row: asyncpg.Record) -> Payment:
    return Payment(
        id=row["id"],
        store_id=row["store_id"],
        tender=row["tender"],
        amount=row["amount"],
        currency=row["currency"],
        status=row["status"],
        provider=row["provider"],
        decline_reason=row["decline_reason"],
        provider_ref=row["provider_ref"],
        token=row["token"],
        last4=row["last4"],
        refunded=row["refunded"],
        attempts=row["attempts"],
        reference=row["reference"],
        created_at_ms=_ms(row["created_at"]),
        resolved_at_ms=_ms(row["resolved_at"]) if row["resolved_at"] else None,
    )


def to_refund(row: asyncpg.Record) -> PaymentRefund:
    return PaymentRefund(
        id=row["id"],
        payment_id=row["payment_id"],
        amount=row["amount"],
        status=row["status"] if row["status"] != "pending" else "unknown",
        provider_ref=row["provider_ref"],
    )


async def try_lock(conn: asyncpg.Connection, payment_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(TRY_LOCK, LOCK_NAMESPACE, str(payment_id)))


async def unlock(conn: asyncpg.Connection, payment_id: uuid.UUID) -> None:
    await conn.fetchval(UNLOCK, LOCK_NAMESPACE, str(payment_id))
