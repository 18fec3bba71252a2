"""Balances split by business format as configured; the scheduled jobs; allowance expiry grace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from protocol.ids import new_id
from protocol.members import AccountScopeDef, MemberCodes, PurchaseLine
from server.db.pool import create_pool
from server.errors import AppError
from server.ledger import jobs
from server.ledger import service as ledger
from server.ledger.schedule import run_once
from server.loyalty import rules
from server.loyalty import service as loyalty
from server.members import service as members


async def test_points_are_split_by_format_and_stored_value_is_chain_wide(conn, store, other_store, member):
    await members.find_member(conn, other_store, phone="13800000001")  # the customer shops in the other store
    for sid, ref in ((store, "A-1"), (other_store, "B-1")):
        await loyalty.post_earning(conn, movement_id=new_id(), store_id=sid, member_id=member.id, reference=ref,
                                   lines=[PurchaseLine(line_no=1, sku="X", category="tv", amount=100_000)])  # fmt: skip
    await ledger.top_up(conn, movement_id=new_id(), store_id=other_store, member_id=member.id, amount=900)
    here = await ledger.balances(conn, member.id, store)
    there = await ledger.balances(conn, member.id, other_store)
    assert here.points == 1_000  # department-store points
    assert there.points == 1_000  # electronics points, a separate account
    assert here.stored_value == there.stored_value == 900
    point_accounts = [a for a in here.accounts if a.kind == "points"]
    assert len(point_accounts) == 2
    assert {a.format_id for a in point_accounts} == {
        await conn.fetchval("SELECT format_id FROM store WHERE id = $1", s) for s in (store, other_store)
    }
    page = await ledger.statement(conn, member.id, store)
    assert {e.store_id for e in page.entries if e.account == "points"} == {store, other_store}  # the source store
    staff = await conn.fetchval("SELECT id FROM staff WHERE code = 'A001'")
    with pytest.raises(AppError) as err:
        await rules.set_scope(conn, AccountScopeDef(kind="points", scope="store"), store_id=store, staff_id=staff)
    assert err.value.code == MemberCodes.SCOPE_LOCKED


async def test_scheduled_jobs_expire_and_release_and_repeat_harmlessly(db_dsn, conn, store, member):
    await ledger.top_up(conn, movement_id=new_id(), store_id=store, member_id=member.id, amount=1_000)
    past = datetime.now(UTC) - timedelta(minutes=1)
    await ledger.hold(conn, hold_id=new_id(), store_id=store, member_id=member.id, account="stored_value",
                      amount=1_000, expires_at=past)  # fmt: skip
    device = await conn.fetchval("SELECT id FROM device WHERE kind = 'till' LIMIT 1")
    await ledger.top_up(conn, movement_id=new_id(), store_id=store, member_id=member.id, amount=500)
    await ledger.hold(conn, hold_id=new_id(), store_id=store, member_id=member.id, account="stored_value",
                      amount=500, expires_at=past, device_id=device)  # an allowance: 24 h grace  # fmt: skip
    pool = await create_pool(db_dsn, 1, 2)
    try:
        await run_once(pool, tiers=True)
        await run_once(pool, tiers=True)
    finally:
        await pool.close()
    assert (await ledger.balances(conn, member.id, store)).stored_value == 1_000
    async with conn.transaction():
        assert await jobs.release_expired_holds(conn, now=datetime.now(UTC) + timedelta(hours=25)) == 1
    assert (await ledger.balances(conn, member.id, store)).stored_value == 1_500
    assert (await jobs.check_invariants(conn)).ok
