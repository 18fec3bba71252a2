"""A simulated acquirer that behaves like a real one, for development, demos and tests.

It keeps its own books in the database (``sim_acquirer_*`` tables), so every server process sees
the same acquirer and a query after a timeout reports what really happened. Outcomes are chosen
by test card numbers and wallet codes (docs/payments.md has the table):

==================== ======================= =================================================
card number          wallet code             behaviour
==================== ======================= =================================================
4111111111111111     280000000000000000      approved (any other valid number too)
4000000000009995     280000000000009995      declined: insufficient_funds
4000000000000069     280000000000000069      declined: card_expired
4000000000000002     280000000000000002      declined: do_not_honour
4000000000000119     280000000000000119      charged, but the answer never arrives (timeout)
4000000000000127     280000000000000127      the request is lost before the acquirer (timeout)
4000000000000259     280000000000000259      answer "unknown"; a later query says approved
4000000000000267     280000000000000267      answer "unknown"; a later query says declined
==================== ======================= =================================================

A card number failing the Luhn check is declined with ``invalid_card``.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from server.payments.provider import (
    ChargeOutcome,
    ChargeResult,
    Instrument,
    ProviderTimeout,
    QueryOutcome,
    QueryResult,
    RefundResult,
)


@dataclass(frozen=True)
class Scenario:
    behaviour: str  # approve | decline | timeout_charged | timeout_lost | unknown
    final: str = "approved"  # what a query reports in the end
    reason: str | None = None


APPROVE = Scenario("approve")
_BY_SUFFIX = {
    "9995": Scenario("decline", "declined", "insufficient_funds"),
    "0069": Scenario("decline", "declined", "card_expired"),
    "0002": Scenario("decline", "declined", "do_not_honour"),
    "0119": Scenario("timeout_charged"),
    "0127": Scenario("timeout_lost"),
    "0259": Scenario("unknown", "approved"),
    "0267": Scenario("unknown", "declined", "do_not_honour"),
}
TEST_CARD_PREFIX = "400000000000"
TEST_WALLET_PREFIX = "28000000000000"


def scenario_for(instrument: Instrument) -> Scenario:
    """The behaviour the simulator plays for this card number or wallet code."""
    prefix = TEST_CARD_PREFIX if instrument.tender == "card" else TEST_WALLET_PREFIX
    number = instrument.number
    if number.startswith(prefix) and len(number) == len(prefix) + 4:
        return _BY_SUFFIX.get(number[-4:], APPROVE)
    if instrument.tender == "card" and not luhn_ok(number):
        return Scenario("decline", "declined", "invalid_card")
    return APPROVE


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class SimulatorProvider:
    """The simulated acquirer. ``hang_s`` is how long a timeout scenario keeps the caller waiting;
    ``unknown_settle_s`` is how long an "unknown" charge stays in processing before a query tells."""

    name = "simulator"

    def __init__(self, pool: asyncpg.Pool, *, hang_s: float = 30.0, unknown_settle_s: float = 0.0) -> None:
        self._pool = pool
        self.hang_s = hang_s
        self.unknown_settle_s = unknown_settle_s
        # Tokens are stable per card within one deployment, like a real vault's.
        self._token_salt = b"floorticket-simulator"

    def _token(self, instrument: Instrument) -> str:
        digest = hashlib.sha256(self._token_salt + instrument.number.encode()).hexdigest()[:24]
        return f"simtok_{digest}"

    async def _log(self, conn: Any, key: str, op: str) -> None:
        await conn.execute("INSERT INTO sim_acquirer_call (idempotency_key, op) VALUES ($1, $2)", key, op)

    async def charge(self, *, key: str, amount: int, currency: str, instrument: Instrument) -> ChargeResult:
        scenario = scenario_for(instrument)
        if scenario.behaviour == "timeout_lost":
            await asyncio.sleep(self.hang_s)  # the request never reaches the acquirer
            raise ProviderTimeout("no answer from the acquirer")
        async with self._pool.acquire() as conn:
            await self._log(conn, key, "charge")
            existing = await conn.fetchrow(SELECT_CHARGE, key)
            if existing is not None:  # idempotent: the same key never charges twice
                return _charge_result(existing)
            status = {"approve": "approved", "decline": "declined", "timeout_charged": "approved"}.get(
                scenario.behaviour, "processing"
            )
            row = await conn.fetchrow(
                INSERT_CHARGE,
                key,
                "sim_" + secrets.token_hex(8),
                amount,
                currency,
                status,
                scenario.final,
                scenario.reason,
                self._token(instrument),
                instrument.last4,
                timedelta(seconds=self.unknown_settle_s),
            )
            if row is None:  # the same key raced in from elsewhere: still one charge
                row = await conn.fetchrow(SELECT_CHARGE, key)
        if scenario.behaviour == "timeout_charged":
            await asyncio.sleep(self.hang_s)  # charged, but the answer is lost on the way back
            raise ProviderTimeout("no answer from the acquirer")
        return _charge_result(row)

    async def query(self, key: str) -> QueryResult:
        async with self._pool.acquire() as conn:
            await self._log(conn, key, "query")
            row = await conn.fetchrow(SETTLE_AND_SELECT, key)
        if row is None:
            return QueryResult("not_found")
        outcome: QueryOutcome = row["status"]
        return QueryResult(
            outcome=outcome,
            amount=row["amount"],
            ref=row["ref"],
            token=row["token"],
            last4=row["last4"],
            decline_reason=row["decline_reason"] if outcome == "declined" else None,
        )

    async def refund(self, *, key: str, charge_key: str, amount: int) -> RefundResult:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._log(conn, key, "refund")
            done = await conn.fetchrow("SELECT ref, amount FROM sim_acquirer_refund WHERE idempotency_key = $1", key)
            if done is not None:
                return RefundResult("approved", ref=done["ref"])
            charge = await conn.fetchrow(
                "SELECT status, amount, refunded FROM sim_acquirer_charge WHERE idempotency_key = $1 FOR UPDATE",
                charge_key,
            )
            if charge is None or charge["status"] != "approved":
                return RefundResult("declined", decline_reason="no_such_charge")
            if charge["refunded"] + amount > charge["amount"]:
                return RefundResult("declined", decline_reason="exceeds_charge")
            ref = "simr_" + secrets.token_hex(8)
            await conn.execute(
                "INSERT INTO sim_acquirer_refund (idempotency_key, charge_key, amount, ref) VALUES ($1, $2, $3, $4)",
                key,
                charge_key,
                amount,
                ref,
            )
            await conn.execute(
                "UPDATE sim_acquirer_charge SET refunded = refunded + $2 WHERE idempotency_key = $1", charge_key, amount
            )
        return RefundResult("approved", ref=ref)


def _charge_result(row: Any) -> ChargeResult:
    status = row["status"]
    outcome: ChargeOutcome = "unknown" if status == "processing" else status
    return ChargeResult(
        outcome=outcome,
        ref=row["ref"],
        token=row["token"],
        last4=row["last4"],
        decline_reason=row["decline_reason"] if status == "declined" else None,
    )


SELECT_CHARGE = "SELECT * FROM sim_acquirer_charge WHERE idempotency_key = $1"

INSERT_CHARGE = """
INSERT INTO sim_acquirer_charge
    (idempotency_key, ref, amount, currency, status, final_status, decline_reason, token, last4, settles_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + $10::interval)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING *
"""

SETTLE_AND_SELECT = """
WITH settled AS (
    UPDATE sim_acquirer_charge SET status = final_status
    WHERE idempotency_key = $1 AND status = 'processing' AND settles_at <= now()
    RETURNING *
)
SELECT * FROM settled
UNION ALL
SELECT * FROM sim_acquirer_charge WHERE idempotency_key = $1 AND NOT EXISTS (SELECT 1 FROM settled)
"""
