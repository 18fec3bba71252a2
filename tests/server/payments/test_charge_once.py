"""charge_once against the simulated acquirer and real PostgreSQL: never two charges for one id."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from protocol.ids import new_id
from protocol.payments import Payment
from server.demo import DemoInfo
from server.errors import AppError
from server.payments.reconciler import reconcile_once
from server.payments.service import Actor, charge_once, refund
from server.payments.simulator import SimulatorProvider
from tests.server.payments.conftest import FAST

APPROVE = "4111111111111111"
TIMEOUT_CHARGED = "4000000000000119"
TIMEOUT_LOST = "4000000000000127"
UNKNOWN_APPROVED = "4000000000000259"
UNKNOWN_DECLINED = "4000000000000267"


async def charge(
    conn: asyncpg.Connection, sim: SimulatorProvider, demo: DemoInfo, pid: uuid.UUID, number: str | None, **kw: Any
) -> Payment:
    return await charge_once(
        conn,
        provider=sim,
        payment_id=pid,
        store_id=demo.store_id,
        tender="card",
        amount=kw.pop("amount", 12_300),
        card_number=number,
        config=FAST,
        **kw,
    )


async def acquirer_calls(conn: asyncpg.Connection, pid: uuid.UUID) -> list[str]:
    rows = await conn.fetch("SELECT op FROM sim_acquirer_call WHERE idempotency_key = $1 ORDER BY id", str(pid))
    return [r["op"] for r in rows]


async def charges_at_acquirer(conn: asyncpg.Connection, pid: uuid.UUID) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM sim_acquirer_charge WHERE idempotency_key = $1", str(pid)))


async def test_approved_payment_keeps_only_token_and_last_four(
    conn: asyncpg.Connection, simulator: SimulatorProvider, demo: DemoInfo
) -> None:
    pid = new_id()
    p = await charge(conn, simulator, demo, pid, APPROVE)
    assert p.status == "approved"
    assert p.last4 == "1111"
    assert p.token
    assert p.token.startswith("simtok_")
    # The card number is nowhere in our tables (the simulator's own books aside).
    for table in ("payment", "payment_attempt", "audit_log"):
        dump = await conn.fetchval(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t")
        assert APPROVE not in dump, table
    # Every call was recorded as an attempt before and after.
    attempts = await conn.fetch("SELECT op, outcome, finished_at FROM payment_attempt WHERE payment_id = $1", pid)
    assert [(a["op"], a["outcome"]) for a in attempts] == [("charge", "approved")]
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'payment.approved'") == 1


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000069", "card_expired"),
        ("4000000000000002", "do_not_honour"),
        ("4111111111111112", "invalid_card"),
    ],
)
async def test_declines_carry_the_reason_and_are_final(
    conn: asyncpg.Connection, simulator: SimulatorProvider, demo: DemoInfo, number: str, reason: str
) -> None:
    pid = new_id()
    p = await charge(conn, simulator, demo, pid, number)
    assert (p.status, p.decline_reason) == ("declined", reason)
    again = await charge(conn, simulator, demo, pid, number)
    assert again.status == "declined"
    assert await acquirer_calls(conn, pid) == ["charge"]  # the retry is answered from our books


async def test_wallet_codes_select_scenarios_too(
    conn: asyncpg.Connection, simulator: SimulatorProvider, demo: DemoInfo
) -> None:
    ok = await charge_once(
        conn,
        provider=simulator,
        payment_id=new_id(),
        store_id=demo.store_id,
        tender="wallet",
        amount=500,
        wallet_code="280000000000000000",
        config=FAST,
    )
    poor = await charge_once(
        conn,
        provider=simulator,
        payment_id=new_id(),
        store_id=demo.store_id,
        tender="wallet",
        amount=500,
        wallet_code="280000000000009995",
        config=FAST,
    )
    assert ok.status == "approved"
    assert ok.last4 == "0000"
    assert (poor.status, poor.decline_reason) == ("declined", "insufficient_funds")


async def test_timeout_then_retry_queries_and_charges_exactly_once(
    conn: asyncpg.Connection, simulator: SimulatorProvider, demo: DemoInfo
) -> None:
    pid = new_id()
    first = await charge(conn, simulator, demo, pid, TIMEOUT_CHARGED)
    assert first.status == "unknown"
    # The acquirer did charge, although we never heard.
    assert await charges_at_acquirer(conn, pid) == 1
    retry = await charge(conn, simulator, demo, pid, TIMEOUT_CHARGED)
    assert retry.status == "approved"
    assert retry.token
    again = await charge(conn, simulator, demo, pid, TIMEOUT_CHARGED)
    assert again.status == "approved"
    assert await acquirer_calls(conn, pid) == ["charge", "query"]
    assert await charges_at_acquirer(conn, pid) == 1


async def test_lost_request_is_found_missing_then_taken_with_another_card(
    conn: asyncpg.Connection, simulator: SimulatorProvider, demo: DemoInfo
) -> None:
    pid = new_id()
    first = await charge(conn, simulator, demo, pid, TIMEOUT_LOST)
    assert first.status == "unknown"
    assert await charges_at_acquirer(conn, pid) == 0
    # A retry without the card: the query shows nothing was charged, and the card is needed again.
    with pytest.raises(AppError) as info:
        await charge(conn, simulator, demo, pid, None)
    assert info.value.code == "payment_instrument_missing"
    row = await conn.fetchrow("SELECT status FROM payment WHERE id = $1", pid)
    assert row["status"] == "failed"
    second = await charge(conn, simulator, demo, pid, APPROVE)
    assert second.status == "approved"
    assert await charges_at_acquirer(conn, pid) == 1


async def test_unknown_outcome_is_resolved_by_the_reconciler_without_charging(
    conn: asyncpg.Connection, pool: asyncpg.Pool, demo: DemoInfo
) -> None:
    sim = SimulatorProvider(pool, hang_s=FAST.sim_hang_s, unknown_settle_s=0.4)
    yes, no = new_id(), new_id()
    assert (await charge(conn, sim, demo, yes, UNKNOWN_APPROVED)).status == "unknown"
    assert (await charge(conn, sim, demo, no, UNKNOWN_DECLINED)).status == "unknown"
    assert await reconcile_once(pool, sim, FAST) == {"unknown": 2}  # still processing at the acquirer
    await asyncio.sleep(0.45)
    assert await reconcile_once(pool, sim, FAST) == {"approved": 1, "declined": 1}
    assert await reconcile_once(pool, sim, FAST) == {}
    rows = {r["id"]: r for r in await conn.fetch("SELECT id, status, decline_reason FROM payment")}
    assert rows[yes]["status"] == "approved"
    assert (rows[no]["status"], rows[no]["decline_reason"]) == ("declined", "do_not_honour")
    for pid in (yes, no):
        assert (await acquirer_calls(conn, pid)).count("charge") == 1


async def test_two_stations_retrying_at_once_make_one_charge(
    db_dsn: str, simulator: SimulatorProvider, demo: DemoInfo
) -> None:
    pid = new_id()
    conns = [await asyncpg.connect(db_dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(charge(c, simulator, demo, pid, TIMEOUT_CHARGED) for c in conns), return_exceptions=True
        )
        busy = [r for r in results if isinstance(r, AppError)]
        done = [r for r in results if not isinstance(r, BaseException)]
        assert busy
        assert all(e.code == "payment_in_progress" for e in busy)
        assert done
        final = await charge(conns[0], simulator, demo, pid, TIMEOUT_CHARGED)
        assert final.status == "approved"
        assert (await acquirer_calls(conns[0], pid)).count("charge") == 1
        assert await charges_at_acquirer(conns[0], pid) == 1
    finally:
        for c in conns:
            await c.close()


async def test_a_crashed_attempt_is_asked_about_not_repeated(
    conn: asyncpg.Connection, pool: asyncpg.Pool, simulator: SimulatorProvider, demo: DemoInfo
) -> None:
    pid = new_id()
    # A process dies after the acquirer charged and before it recorded anything: the attempt row is
    # pending and nobody holds the payment's lock.
    task = asyncio.create_task(charge(conn, simulator, demo, pid, TIMEOUT_CHARGED))
    for _ in range(100):
        if await pool.fetchval("SELECT count(*) FROM sim_acquirer_charge WHERE idempotency_key = $1", str(pid)):
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await conn.execute("SELECT pg_advisory_unlock_all()")
    status = await conn.fetchval("SELECT status FROM payment WHERE id = $1", pid)
    assert status == "pending"
    await asyncio.sleep(FAST.stale_pending_s)
    assert await reconcile_once(pool, simulator, FAST) == {"approved": 1}
    assert await acquirer_calls(conn, pid) == ["charge", "query"]


async def test_same_id_different_amount_is_refused(
    conn: asyncpg.Connection, simulator: SimulatorProvider, demo: DemoInfo
) -> None:
    pid = new_id()
    await charge(conn, simulator, demo, pid, APPROVE)
    with pytest.raises(AppError) as info:
        await charge(conn, simulator, demo, pid, APPROVE, amount=99)
    assert info.value.code == "payment_id_reused"
    assert info.value.details["field"] == "amount"


async def test_refund_partial_then_too_much_then_replay(
    conn: asyncpg.Connection, simulator: SimulatorProvider, demo: DemoInfo
) -> None:
    pid = new_id()
    await charge(conn, simulator, demo, pid, APPROVE, amount=10_000)
    rid = new_id()
    actor = Actor(staff_id=None)
    r1 = await refund(
        conn, provider=simulator, store_id=demo.store_id, payment_id=pid, refund_id=rid, amount=4_000, actor=actor
    )
    assert r1.status == "approved"
    replay = await refund(conn, provider=simulator, store_id=demo.store_id, payment_id=pid, refund_id=rid, amount=4_000)
    assert replay.status == "approved"
    with pytest.raises(AppError) as info:
        await refund(conn, provider=simulator, store_id=demo.store_id, payment_id=pid, refund_id=new_id(), amount=6_001)
    assert info.value.code == "refund_exceeds_payment"
    assert info.value.details["refundable"] == 6_000
    assert await conn.fetchval("SELECT refunded FROM payment WHERE id = $1", pid) == 4_000
    assert await conn.fetchval("SELECT refunded FROM sim_acquirer_charge WHERE idempotency_key = $1", str(pid)) == 4_000
