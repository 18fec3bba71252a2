"""The ledger's promises: never negative (also under concurrency), balance = sum of entries,
idempotent movement ids, holds reserve/capture/release."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from protocol.ids import new_id
from protocol.members import Member, MemberCodes
from server.errors import AppError
from server.ledger import jobs
from server.ledger import service as ledger
from server.members import service as members

SOON = datetime.now(UTC) + timedelta(hours=6)  # far enough for a long suite run


async def top_up(conn: asyncpg.Connection, store: uuid.UUID, member: Member, amount: int, mid: uuid.UUID | None = None):
    async with conn.transaction():
        return await ledger.top_up(
            conn, movement_id=mid or new_id(), store_id=store, member_id=member.id, amount=amount
        )


async def test_top_up_then_balance_and_invariants(conn, store, member):
    result = await top_up(conn, store, member, 50_000)
    assert result.stored_value == 50_000
    await top_up(conn, store, member, 2_500)
    bal = await ledger.balances(conn, member.id, store)
    assert bal.stored_value == 52_500
    report = await jobs.check_invariants(conn)
    assert report.ok, report.problems
    assert report.accounts_checked >= 1


async def test_same_movement_id_returns_first_result_and_different_content_is_refused(conn, store, member):
    mid = new_id()
    first = await top_up(conn, store, member, 10_000, mid)
    again = await top_up(conn, store, member, 10_000, mid)
    assert again == first
    assert (await ledger.balances(conn, member.id, store)).stored_value == 10_000
    with pytest.raises(AppError) as err:
        await top_up(conn, store, member, 20_000, mid)
    assert err.value.code == MemberCodes.MOVEMENT_ID_REUSED
    assert err.value.details["field"] == "amount"
    assert (await ledger.balances(conn, member.id, store)).stored_value == 10_000


async def test_hold_capture_release(conn, store, member):
    await top_up(conn, store, member, 10_000)
    h1, h2 = new_id(), new_id()
    async with conn.transaction():
        await ledger.hold(
            conn, hold_id=h1, store_id=store, member_id=member.id, account="stored_value", amount=6_000, expires_at=SOON
        )
    bal = await ledger.balances(conn, member.id, store)
    assert (bal.stored_value, bal.accounts[0].held) == (4_000, 6_000)
    with pytest.raises(AppError) as err:
        async with conn.transaction():
            await ledger.hold(
                conn,
                hold_id=h2,
                store_id=store,
                member_id=member.id,
                account="stored_value",
                amount=5_000,
                expires_at=SOON,
            )
    assert err.value.code == MemberCodes.INSUFFICIENT_BALANCE
    async with conn.transaction():
        captured = await ledger.capture(conn, h1, reference="checkout-1", amount=5_000)
    assert (captured.state, captured.captured) == ("captured", 5_000)
    assert (await ledger.balances(conn, member.id, store)).stored_value == 5_000  # 1,000 released back
    async with conn.transaction():
        again = await ledger.capture(conn, h1, reference="checkout-1", amount=5_000)
    assert again.captured == 5_000
    with pytest.raises(AppError) as err:
        await ledger.release(conn, h1)
    assert err.value.code == MemberCodes.HOLD_CLOSED
    async with conn.transaction():
        await ledger.hold(
            conn, hold_id=h2, store_id=store, member_id=member.id, account="stored_value", amount=5_000, expires_at=SOON
        )
        released = await ledger.release(conn, h2)
        assert (await ledger.release(conn, h2)) == released
    assert released.state == "released"
    assert (await ledger.balances(conn, member.id, store)).stored_value == 5_000
    async with conn.transaction():
        await ledger.refund_tender(conn, movement_id=new_id(), hold_id=h1, amount=5_000)
    assert (await ledger.balances(conn, member.id, store)).stored_value == 10_000
    with pytest.raises(AppError) as err:
        await ledger.refund_tender(conn, movement_id=new_id(), hold_id=h1, amount=1)
    assert err.value.code == MemberCodes.REFUND_EXCEEDS_PURCHASE
    assert (await jobs.check_invariants(conn)).ok


async def test_expired_hold_cannot_be_captured_and_the_job_releases_it(conn, store, member):
    await top_up(conn, store, member, 3_000)
    hid = new_id()
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with conn.transaction():
        await ledger.hold(
            conn,
            hold_id=hid,
            store_id=store,
            member_id=member.id,
            account="stored_value",
            amount=3_000,
            expires_at=past,
        )
    with pytest.raises(AppError) as err:
        async with conn.transaction():
            await ledger.capture(conn, hid, reference="late")
    assert err.value.code == MemberCodes.HOLD_EXPIRED
    async with conn.transaction():
        assert await jobs.release_expired_holds(conn) == 1
    async with conn.transaction():
        assert await jobs.release_expired_holds(conn) == 0
    assert (await ledger.balances(conn, member.id, store)).stored_value == 3_000
    assert (await jobs.check_invariants(conn)).ok


async def test_two_tills_spending_the_same_balance_at_once(conn, conn2, store, member):
    """Both tills reserve 8,000 of a 10,000 balance in overlapping transactions: one succeeds, the
    other gets insufficient_balance, and the balance never goes below zero."""
    await top_up(conn, store, member, 10_000)
    await ledger.balances(conn, member.id, store)  # accounts exist before the race
    go = asyncio.Event()

    async def spend(c: asyncpg.Connection) -> str:
        async with c.transaction():
            await c.execute("SELECT 1")  # the transaction is open on both connections before either spends
            await go.wait()
            try:
                await ledger.hold(
                    c,
                    hold_id=new_id(),
                    store_id=store,
                    member_id=member.id,
                    account="stored_value",
                    amount=8_000,
                    expires_at=SOON,
                )
                await asyncio.sleep(0.2)  # keep the row locked while the other till tries
                return "ok"
            except AppError as exc:
                return exc.code

    tasks = [asyncio.create_task(spend(c)) for c in (conn, conn2)]
    await asyncio.sleep(0.05)
    go.set()
    outcomes = sorted(await asyncio.gather(*tasks))
    assert outcomes == [MemberCodes.INSUFFICIENT_BALANCE, "ok"]
    assert (await ledger.balances(conn, member.id, store)).stored_value == 2_000
    assert (await jobs.check_invariants(conn)).ok


async def test_concurrent_repeat_of_one_movement_id_applies_once(conn, conn2, store, member):
    mid = new_id()

    async def once(c: asyncpg.Connection):
        async with c.transaction():
            r = await ledger.top_up(c, movement_id=mid, store_id=store, member_id=member.id, amount=700)
            await asyncio.sleep(0.1)
            return r

    a, b = await asyncio.gather(once(conn), once(conn2))
    assert a == b
    assert (await ledger.balances(conn, member.id, store)).stored_value == 700


async def test_entries_cannot_be_edited(conn, store, member):
    await top_up(conn, store, member, 100)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("UPDATE ledger_entry SET amount = 1000")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM ledger_entry")


async def test_invariant_check_finds_a_tampered_balance(conn, store, member):
    await top_up(conn, store, member, 100)
    await conn.execute("UPDATE ledger_account SET balance = balance + 1 WHERE member_id = $1", member.id)
    report = await jobs.check_invariants(conn)
    assert not report.ok
    assert "entries sum to 100" in report.problems[0]


async def test_another_stores_member_is_not_found(conn, other_store, member):
    with pytest.raises(AppError) as err:
        await ledger.top_up(conn, movement_id=new_id(), store_id=other_store, member_id=member.id, amount=1)
    assert err.value.status == 404


async def test_a_refusal_caught_inside_the_callers_transaction_leaves_nothing_behind(conn, store, member):
    """Checkout may catch insufficient_balance and offer another tender in the same transaction."""
    await top_up(conn, store, member, 1_000)
    async with conn.transaction():
        with pytest.raises(AppError):
            await ledger.hold(conn, hold_id=new_id(), store_id=store, member_id=member.id, account="stored_value",
                              amount=5_000, expires_at=SOON)  # fmt: skip
        ok = await ledger.hold(conn, hold_id=new_id(), store_id=store, member_id=member.id, account="stored_value",
                               amount=400, expires_at=SOON)  # fmt: skip
    assert ok.state == "open"
    assert (await ledger.balances(conn, member.id, store)).stored_value == 600
    report = await jobs.check_invariants(conn)
    assert report.ok, report.problems


async def test_same_movement_id_in_another_store_is_refused(conn, store, other_store, member):
    await members.find_member(conn, other_store, card="CARD0001")
    mid = new_id()
    await top_up(conn, store, member, 100, mid)
    with pytest.raises(AppError) as err:
        await top_up(conn, other_store, member, 100, mid)
    assert err.value.details["field"] == "store_id"
