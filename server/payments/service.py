"""Card and wallet payments: charge once per payment id, resolve unknown outcomes, refund.

The rule that keeps a customer from being charged twice: before any call to the provider the
attempt is written and committed; a payment whose last attempt has no known outcome (``pending``
or ``unknown``) is *queried*, and charged again only when the provider says it has no charge under
that payment's key, and then with the same key. One call per payment at a time, across every
server process, is enforced by a PostgreSQL advisory lock held on the caller's connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import asyncpg

from protocol.payments import Payment, PaymentCodes, PaymentRefund
from server.errors import AppError, Conflict, NotFound
from server.payments import repository as repo
from server.payments.audit import audit
from server.payments.provider import Instrument, PaymentProvider, QueryResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentsConfig:
    """Timings of provider calls and reconciliation (docs/payments.md)."""

    call_timeout_s: float = 15.0  # no answer by then: the outcome is unknown
    recheck_s: float = 10.0  # how soon an unknown payment is queried again
    stale_pending_s: float = 20.0  # a pending attempt this old with nobody on it is asked about
    reconcile_every_s: float = 5.0
    sim_hang_s: float = 60.0  # how long the simulator keeps a "timeout" card waiting
    sim_unknown_settle_s: float = 2.0  # how long the simulator leaves an "unknown" charge processing


DEFAULT_CONFIG = PaymentsConfig()


@dataclass(frozen=True)
class Actor:
    """Who is acting, for the audit trail."""

    staff_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None


async def get_payment(conn: asyncpg.Connection, *, store_id: uuid.UUID, payment_id: uuid.UUID) -> Payment:
    row = await conn.fetchrow(repo.SELECT_PAYMENT, payment_id)
    if row is None or row["store_id"] != store_id:
        raise NotFound("payment", payment_id)
    return repo.to_payment(row)


async def list_unresolved(conn: asyncpg.Connection, *, store_id: uuid.UUID) -> list[Payment]:
    return [repo.to_payment(r) for r in await conn.fetch(repo.LIST_UNRESOLVED, store_id)]


async def charge_once(
    conn: asyncpg.Connection,
    *,
    provider: PaymentProvider,
    payment_id: uuid.UUID,
    store_id: uuid.UUID,
    tender: Literal["card", "wallet"],
    amount: int,
    currency: str = "CNY",
    card_number: str | None = None,
    wallet_code: str | None = None,
    reference: str = "",
    actor: Actor = Actor(),
    config: PaymentsConfig = DEFAULT_CONFIG,
) -> Payment:
    """Take a card or wallet payment at most once for ``payment_id``.

    A first call charges; a retry answers the stored outcome, or queries the provider when the
    outcome is not known yet, and charges again only if the provider never saw the charge. The
    returned payment's ``status`` says what happened (``unknown``: ask again later, the reconciler
    is on it). ``conn`` must not be inside a transaction: the attempt is committed before the call.
    """
    if conn.is_in_transaction():
        raise RuntimeError("charge_once needs a connection outside a transaction")
    number = card_number if tender == "card" else wallet_code
    instrument = Instrument(tender, number) if number else None
    if not await repo.try_lock(conn, payment_id):
        raise Conflict(
            "This payment is being processed right now; wait a moment and ask again with the same payment id.",
            PaymentCodes.PAYMENT_IN_PROGRESS,
            payment_id=str(payment_id),
        )
    try:
        row = await conn.fetchrow(repo.SELECT_PAYMENT, payment_id)
        if row is None:
            if instrument is None:
                raise _instrument_missing(tender)
            await conn.execute(
                repo.INSERT_PAYMENT,
                payment_id,
                store_id,
                tender,
                amount,
                currency,
                provider.name,
                reference,
                actor.staff_id,
                actor.device_id,
            )
            row = await conn.fetchrow(repo.SELECT_PAYMENT, payment_id)
            assert row is not None
        else:
            _same_payment(
                row, store_id=store_id, tender=tender, amount=amount, currency=currency, instrument=instrument
            )
            if row["status"] in ("approved", "declined"):
                return repo.to_payment(row)
            if row["status"] in ("pending", "unknown") and row["attempts"] > 0:
                row = await _query_and_record(conn, provider, row, actor, config)
                if row["status"] != "failed":
                    return repo.to_payment(row)
            if instrument is None:
                raise _instrument_missing(tender)
        return repo.to_payment(await _charge(conn, provider, row, instrument, actor, config))
    finally:
        await repo.unlock(conn, payment_id)


async def resolve(
    conn: asyncpg.Connection,
    *,
    provider: PaymentProvider,
    store_id: uuid.UUID,
    payment_id: uuid.UUID,
    actor: Actor,
    config: PaymentsConfig = DEFAULT_CONFIG,
) -> Payment:
    """Ask the provider now what became of an unresolved payment (a supervisor's action)."""
    row = await conn.fetchrow(repo.SELECT_PAYMENT, payment_id)
    if row is None or row["store_id"] != store_id:
        raise NotFound("payment", payment_id)
    if row["status"] not in ("pending", "unknown"):
        return repo.to_payment(row)
    if not await repo.try_lock(conn, payment_id):
        raise Conflict(
            "This payment is being processed right now; ask again in a moment.",
            PaymentCodes.PAYMENT_IN_PROGRESS,
            payment_id=str(payment_id),
        )
    try:
        row = await conn.fetchrow(repo.SELECT_PAYMENT, payment_id)
        assert row is not None
        if row["status"] in ("pending", "unknown"):
            row = await _query_and_record(conn, provider, row, actor, config, action="payment.resolved")
        return repo.to_payment(row)
    finally:
        await repo.unlock(conn, payment_id)


async def reconcile_one(
    conn: asyncpg.Connection, provider: PaymentProvider, payment_id: uuid.UUID, config: PaymentsConfig
) -> str | None:
    """Query one unresolved payment if nobody else is on it; return its status after, or None."""
    if not await repo.try_lock(conn, payment_id):
        return None
    try:
        row = await conn.fetchrow(repo.SELECT_PAYMENT, payment_id)
        if row is None or row["status"] not in ("pending", "unknown"):
            return None
        row = await _query_and_record(conn, provider, row, Actor(), config, action="payment.reconciled")
        return str(row["status"])
    finally:
        await repo.unlock(conn, payment_id)


async def refund(
    conn: asyncpg.Connection,
    *,
    provider: PaymentProvider,
    store_id: uuid.UUID,
    payment_id: uuid.UUID,
    refund_id: uuid.UUID,
    amount: int,
    reason: str = "",
    actor: Actor = Actor(),
    config: PaymentsConfig = DEFAULT_CONFIG,
) -> PaymentRefund:
    """Give back part or all of an approved payment to the same card or wallet. ``refund_id`` is
    made by the caller; a retry with it is a replay (the provider dedupes on it too)."""
    if conn.is_in_transaction():
        raise RuntimeError("refund needs a connection outside a transaction")
    if not await repo.try_lock(conn, payment_id):
        raise Conflict(
            "This payment is being processed right now; ask again in a moment.",
            PaymentCodes.PAYMENT_IN_PROGRESS,
            payment_id=str(payment_id),
        )
    try:
        pay = await conn.fetchrow(repo.SELECT_PAYMENT, payment_id)
        if pay is None or pay["store_id"] != store_id:
            raise NotFound("payment", payment_id)
        existing = await conn.fetchrow(repo.SELECT_REFUND, refund_id)
        if existing is not None:
            if existing["payment_id"] != payment_id or existing["amount"] != amount:
                raise Conflict(
                    "This refund id was already used for a different refund; make a new refund id.",
                    PaymentCodes.PAYMENT_MISMATCH,
                    field="amount" if existing["payment_id"] == payment_id else "payment_id",
                )
            if existing["status"] in ("approved", "declined"):
                return repo.to_refund(existing)
        else:
            if pay["status"] != "approved":
                raise AppError(
                    PaymentCodes.REFUND_NOT_ALLOWED,
                    f"Only an approved payment can be refunded; this one is {pay['status']}.",
                    status=409,
                )
            in_flight = await conn.fetchval(repo.REFUNDS_IN_FLIGHT, payment_id, refund_id)
            if pay["refunded"] + in_flight + amount > pay["amount"]:
                left = pay["amount"] - pay["refunded"] - in_flight
                raise AppError(
                    PaymentCodes.REFUND_TOO_LARGE,
                    f"At most {left} fen of this payment can still be refunded.",
                    status=409,
                    details={"refundable": left},
                )
            await conn.execute(repo.INSERT_REFUND, refund_id, payment_id, amount, reason, actor.staff_id)
        try:
            result = await asyncio.wait_for(
                provider.refund(key=str(refund_id), charge_key=str(payment_id), amount=amount), config.call_timeout_s
            )
            status, ref = result.outcome, result.ref
        except Exception as exc:  # no answer: unknown, a retry with the same refund id is safe
            log.warning("refund %s: no answer from provider: %r", refund_id, exc)
            status, ref = "unknown", None
        async with conn.transaction():
            row = await conn.fetchrow(repo.FINISH_REFUND, refund_id, status, ref)
            assert row is not None
            if status == "approved":
                await conn.execute(repo.ADD_REFUNDED, payment_id, amount)
            await audit(
                conn,
                store_id=store_id,
                staff_id=actor.staff_id,
                device_id=actor.device_id,
                action=f"payment.refund.{status}",
                object_type="payment",
                object_id=payment_id,
                details={"refund_id": str(refund_id), "amount": amount, "reason": reason},
            )
        return repo.to_refund(row)
    finally:
        await repo.unlock(conn, payment_id)


# --- internals ------------------------------------------------------------------------------------


def _instrument_missing(tender: str) -> AppError:
    what = "card" if tender == "card" else "customer's payment code"
    return AppError(
        PaymentCodes.INSTRUMENT_MISSING,
        f"The provider never received this payment; present the {what} again to take it.",
        status=409,
    )


def _same_payment(
    row: asyncpg.Record,
    *,
    store_id: uuid.UUID,
    tender: str,
    amount: int,
    currency: str,
    instrument: Instrument | None,
) -> None:
    if row["store_id"] != store_id:
        raise NotFound("payment", row["id"])
    for field, value in (("tender", tender), ("amount", amount), ("currency", currency)):
        if row[field] != value:
            raise Conflict(
                f"This payment id was already used with a different {field}; make a new payment id.",
                PaymentCodes.PAYMENT_MISMATCH,
                field=field,
            )
    # A different card is a different payment, unless the first never reached the provider (it is
    # then asked about first, and the payment may be taken from another card).
    final = row["status"] in ("approved", "declined")
    if final and instrument is not None and row["last4"] is not None and row["last4"] != instrument.last4:
        raise Conflict(
            "This payment id was already used with a different card or code; make a new payment id.",
            PaymentCodes.PAYMENT_MISMATCH,
            field="card_number" if tender == "card" else "wallet_code",
        )


async def _charge(
    conn: asyncpg.Connection,
    provider: PaymentProvider,
    row: asyncpg.Record,
    instrument: Instrument,
    actor: Actor,
    config: PaymentsConfig,
) -> asyncpg.Record:
    payment_id = row["id"]
    # Written and committed before the provider hears of it.
    async with conn.transaction():
        await conn.execute(repo.START_CHARGE, payment_id, instrument.last4, timedelta(seconds=config.stale_pending_s))
        attempt_id = await conn.fetchval(repo.INSERT_ATTEMPT, payment_id, "charge")
    status: str
    reason = ref = token = None
    last4: str | None = instrument.last4
    try:
        result = await asyncio.wait_for(
            provider.charge(key=str(payment_id), amount=row["amount"], currency=row["currency"], instrument=instrument),
            config.call_timeout_s,
        )
        status = result.outcome
        reason, ref, token, last4 = result.decline_reason, result.ref, result.token, result.last4 or last4
        detail: dict[str, Any] = {"outcome": result.outcome, "ref": ref, "reason": reason}
    except Exception as exc:  # timeout, network error, provider error: the charge may have happened
        status = "unknown"
        detail = {"outcome": "no_answer", "error": type(exc).__name__}
    return await _record(conn, row, attempt_id, status, reason, ref, token, last4, detail, actor, config, "payment")


async def _query_and_record(
    conn: asyncpg.Connection,
    provider: PaymentProvider,
    row: asyncpg.Record,
    actor: Actor,
    config: PaymentsConfig,
    action: str = "payment",
) -> asyncpg.Record:
    attempt_id = await conn.fetchval(repo.INSERT_ATTEMPT, row["id"], "query")
    try:
        q: QueryResult = await asyncio.wait_for(provider.query(str(row["id"])), config.call_timeout_s)
    except Exception as exc:
        status = "pending" if row["status"] == "pending" else "unknown"
        failure: dict[str, Any] = {"outcome": "no_answer", "error": type(exc).__name__}
        return await _record(conn, row, attempt_id, status, None, None, None, None, failure, actor, config, action)
    status = {"approved": "approved", "declined": "declined", "processing": "unknown", "not_found": "failed"}[q.outcome]
    detail: dict[str, Any] = {"outcome": q.outcome, "ref": q.ref}
    return await _record(
        conn, row, attempt_id, status, q.decline_reason, q.ref, q.token, q.last4, detail, actor, config, action
    )


async def _record(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    attempt_id: int,
    status: str,
    reason: str | None,
    ref: str | None,
    token: str | None,
    last4: str | None,
    detail: dict[str, Any],
    actor: Actor,
    config: PaymentsConfig,
    action: str,
) -> asyncpg.Record:
    async with conn.transaction():
        await conn.execute(repo.FINISH_ATTEMPT, attempt_id, detail["outcome"], json.dumps(detail))
        new = await conn.fetchrow(
            repo.RECORD_OUTCOME, row["id"], status, reason, ref, token, last4, timedelta(seconds=config.recheck_s)
        )
        if status != row["status"] or status != "pending":
            await audit(
                conn,
                store_id=row["store_id"],
                staff_id=actor.staff_id,
                device_id=actor.device_id,
                action=f"{action}.{status}",
                object_type="payment",
                object_id=row["id"],
                details={"amount": row["amount"], "tender": row["tender"], "reason": reason, "ref": ref},
            )
    assert new is not None
    return new
