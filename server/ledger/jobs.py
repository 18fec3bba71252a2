"""Scheduled and on-demand ledger jobs: e-coin expiry, expired holds, and the invariant check.

Each job is safe to run twice or from two processes at once: it works only on rows still due and
locks them (``SKIP LOCKED``), so a second run finds nothing left to do.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from protocol.ids import new_id
from protocol.members import ExpiryResult, InvariantReport
from server.ledger import repository as sql
from server.ledger.posting import atomic, begin_movement, finish_movement, post, system_account
from server.ledger.service import release

ALLOWANCE_GRACE = timedelta(hours=24)
"""An offline allowance outlives its expiry by this much, so spends made before expiry can still sync."""


@atomic
async def expire_ecoin(conn: asyncpg.Connection, *, now: datetime | None = None, batch: int = 500) -> ExpiryResult:
    """Post an expiry movement for every e-coin lot past its date with something left. Call inside a
    transaction; running it again changes nothing."""
    now = now or datetime.now(UTC)
    count = total = 0
    for lot in await conn.fetch(sql.EXPIRED_LOTS, now, batch):
        amount = int(lot["remaining"])
        store_id = await conn.fetchval(
            "SELECT store_id FROM ledger_movement WHERE id = (SELECT movement_id FROM ecoin_lot WHERE id = $1)",
            lot["id"],
        )
        movement_id = new_id()
        await begin_movement(
            conn,
            movement_id,
            "expire",
            {"lot_id": lot["id"], "amount": amount},
            store_id=store_id,
            member_id=lot["member_id"],
            reason="e-coin expired",
            reference=f"lot:{lot['id']}",
        )
        expired = await system_account(conn, "ecoin_expired", "e_coin", store_id)
        await post(conn, movement_id, [(lot["account_id"], -amount, True), (expired, amount, False)])
        await conn.execute(sql.MARK_LOT_EXPIRED, lot["id"], now)
        await finish_movement(conn, movement_id, {"lot_id": str(lot["id"]), "expired": amount})
        count += 1
        total += amount
    return ExpiryResult(lots_expired=count, amount=total)


@atomic
async def release_expired_holds(conn: asyncpg.Connection, *, now: datetime | None = None, batch: int = 500) -> int:
    """Release holds left open past their expiry (a till that never came back). Returns how many."""
    now = now or datetime.now(UTC)
    released = 0
    for row in await conn.fetch(sql.EXPIRED_HOLDS, now, ALLOWANCE_GRACE, batch):
        result = await release(conn, uuid.UUID(str(row["id"])))
        released += 1 if result.state != "open" else 0
    return released


async def check_invariants(conn: asyncpg.Connection) -> InvariantReport:
    """Prove the ledger: every member balance equals the sum of its entries and is not negative,
    every movement sums to zero per kind, e-coin balances equal their lots, held balances equal open holds."""
    problems: list[str] = []
    for r in await conn.fetch(sql.BAD_BALANCES):
        problems.append(f"account {r['id']} ({r['kind']}) balance {r['balance']} but entries sum to {r['total']}")
    for r in await conn.fetch(sql.NEGATIVE_BALANCES):
        problems.append(f"account {r['id']} is negative ({r['balance']})")
    for r in await conn.fetch(sql.UNBALANCED_MOVEMENTS):
        problems.append(f"movement {r['movement_id']} ({r['kind']}) does not sum to zero: {r['total']}")
    for r in await conn.fetch(sql.LOTS_VS_BALANCE):
        problems.append(f"e-coin account {r['id']} balance {r['balance']} but its lots hold {r['lots']}")
    for r in await conn.fetch(sql.HOLDS_VS_HELD):
        problems.append(f"held account {r['id']} balance {r['balance']} but open holds total {r['holds']}")
    return InvariantReport(
        ok=not problems,
        accounts_checked=int(await conn.fetchval(sql.COUNT_MEMBER_ACCOUNTS)),
        movements_checked=int(await conn.fetchval(sql.COUNT_MOVEMENTS)),
        problems=problems,
    )
