"""Checkouts running at the same time: the same checkout sent twice at once, checkouts sharing tickets
listed in opposite orders, and checkouts of one member all settle or refuse cleanly, never twice and
never in a deadlock."""

from __future__ import annotations

import asyncio

import asyncpg

from protocol.checkout import CheckoutCodes
from server.checkout import service
from server.checkout.service import Payments
from server.errors import AppError
from server.ledger.jobs import check_invariants
from tests.server.checkout.conftest import CONFIG, Shop, checkout, tender


async def test_the_same_checkout_sent_twice_at_once_settles_once(
    db_dsn: str, conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    member = shop.members["QR-ZM-0001"]
    a = await shop.issue(conn, "apple", member_id=member)
    h = await shop.issue(conn, "huawei", member_id=member)
    # cash and stored value: a card tender sent twice at once answers payment_in_progress to one of them
    req = checkout([a, h], tender("stored_value", 1_000), tender("cash", a.total + h.total), member_id=member)
    conns = [await asyncpg.connect(db_dsn) for _ in range(3)]
    try:
        results = await asyncio.gather(*(service.settle(c, shop.who(), req, pay, CONFIG) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert sorted(r.replayed for r in results) == [False, True, True]
    assert len({r.receipt_no for r in results}) == 1
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", req.id) == 1
    assert await conn.fetchval("SELECT count(*) FROM ledger_hold WHERE reference = $1", f"checkout:{req.id}") == 1
    assert await conn.fetchval("SELECT count(*) FROM earned_purchase WHERE reference = $1", f"checkout:{req.id}") == 1
    assert (await check_invariants(conn)).ok


async def test_checkouts_sharing_tickets_in_opposite_orders_one_wins_without_deadlock(
    db_dsn: str, conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    first = await shop.issue(conn, "apple")
    second = await shop.issue(conn, "huawei")
    both = first.total + second.total
    reqs = [
        checkout([first, second], tender("card", both)),
        checkout([second, first], tender("wallet", both)),
    ]
    conns = [await asyncpg.connect(db_dsn) for _ in reqs]
    try:
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(service.settle(c, shop.who(), r, pay, CONFIG) for c, r in zip(conns, reqs, strict=True)),
                return_exceptions=True,
            ),
            timeout=8,
        )
    finally:
        for c in conns:
            await c.close()
    wins = [o for o in outcomes if not isinstance(o, BaseException)]
    losses = [o for o in outcomes if isinstance(o, AppError)]
    assert len(wins) == 1, outcomes
    assert [e.code for e in losses] == [CheckoutCodes.TICKET_ALREADY_IN_CHECKOUT], outcomes
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM ticket WHERE id = ANY($1) AND state = 'paid' AND checkout_id = $2",
            [first.id, second.id],
            wins[0].id,
        )
        == 2
    )
    lost = reqs[1] if wins[0].id == reqs[0].id else reqs[0]
    payment = await conn.fetchrow("SELECT amount, refunded FROM payment WHERE id = $1", lost.tenders[0].id)
    assert payment["refunded"] == payment["amount"]  # the loser's charge was given back


async def test_many_checkouts_of_one_member_with_member_tenders_at_once_all_settle(
    db_dsn: str, conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    member = shop.members["QR-ZM-0001"]  # has stored value from the demo top-up
    reqs = []
    for i in range(6):
        t = await shop.issue(conn, "apple" if i % 2 else "huawei", member_id=member)
        spent = [tender("stored_value", 1_000), tender("card", t.total - 1_000)]
        reqs.append(checkout([t], *(spent if i % 2 else spent[::-1]), member_id=member))
    conns = [await asyncpg.connect(db_dsn) for _ in reqs]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(service.settle(c, shop.who(), r, pay, CONFIG) for c, r in zip(conns, reqs, strict=True))),
            timeout=8,
        )
    finally:
        for c in conns:
            await c.close()
    assert all(not r.replayed and r.points_earned > 0 for r in results)
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = ANY($1)", [r.id for r in reqs]) == 6
    report = await check_invariants(conn)
    assert report.ok, report.problems
