"""The facts follow the real checkout and refund services: paid tickets, tenders and a refund."""

from __future__ import annotations

import asyncio

import asyncpg

from protocol.checkout import RefundLineRequest, RefundRequest
from protocol.ids import new_id
from protocol.members import MergeRequest
from server.checkout import refunds, service
from server.checkout import repository as checkout_sql
from server.checkout.service import Payments
from server.members import service as members
from server.settings import Settings
from tests.server.checkout.conftest import CONFIG, Shop, checkout, pay, pool, shop, tender

__all__ = ["pay", "pool", "shop"]  # fixtures of the checkout tests, used here


async def test_a_settled_checkout_and_its_refund_reach_the_facts(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    member = next(iter(shop.members.values()))
    a = await shop.issue(conn, "apple", member_id=member)
    h = await shop.issue(conn, "huawei", member_id=member, lines=1)
    total = a.total + h.total
    result = await service.settle(conn, shop.who(), checkout([a, h], tender("card", total), member_id=member), pay,
                                  CONFIG)  # fmt: skip
    facts = await conn.fetch(
        "SELECT ticket_id, member_id, tickets, visits, amount FROM sales_ticket_fact ORDER BY amount"
    )
    assert {f["ticket_id"] for f in facts} == {a.id, h.id}
    assert {f["member_id"] for f in facts} == {member}
    assert sum(f["visits"] for f in facts) == 1
    assert sum(f["amount"] for f in facts) == total
    assert await conn.fetchval("SELECT sum(amount) FROM sales_tender_fact WHERE kind = 'card'") == total
    assert await conn.fetchval("SELECT sum(amount) FROM sales_member_day WHERE member_id = $1", member) == total
    req = RefundRequest(id=new_id(), checkout_id=result.id, ticket_ids=[h.id], reason="changed mind")
    await refunds.refund(conn, shop.who(), req, pay, CONFIG, settings)
    assert await conn.fetchval("SELECT sum(amount) FROM sales_ticket_fact") == a.total
    assert await conn.fetchval("SELECT sum(amount) FROM sales_line_fact") == a.total
    assert await conn.fetchval("SELECT sum(amount) FROM sales_tender_fact") == a.total
    assert await conn.fetchval("SELECT sum(amount) FROM sales_member_day WHERE member_id = $1", member) == a.total


async def test_refund_states_change_no_fact_a_line_refund_then_the_rest_nets_to_zero(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    member = next(iter(shop.members.values()))
    t = await shop.issue(conn, "apple", member_id=member, lines=2, qty=2)
    result = await service.settle(conn, shop.who(), checkout([t], tender("card", t.total), member_id=member), pay,
                                  CONFIG)  # fmt: skip
    line = RefundLineRequest(ticket_id=t.id, line_no=1, qty=1)
    await refunds.refund(conn, shop.who(), RefundRequest(id=new_id(), checkout_id=result.id, lines=[line]), pay,
                         CONFIG, settings)  # fmt: skip
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", t.id) == "partly_refunded"
    first_back = t.lines[0].line_total // 2
    assert await conn.fetchval("SELECT sum(amount) FROM sales_ticket_fact") == t.total - first_back
    await refunds.refund(conn, shop.who(), RefundRequest(id=new_id(), checkout_id=result.id, ticket_ids=[t.id]), pay,
                         CONFIG, settings)  # fmt: skip
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", t.id) == "refunded"
    sums = await conn.fetchrow("SELECT sum(amount) AS amount, sum(tickets) AS tickets, count(*) FILTER"
                               " (WHERE refund_id IS NULL) AS sales FROM sales_ticket_fact")  # fmt: skip
    assert (sums["amount"], sums["tickets"], sums["sales"]) == (0, 1, 1)  # the sale once, its two refunds
    assert await conn.fetchval("SELECT sum(qty) FROM sales_line_fact") == 0
    assert await conn.fetchval("SELECT sum(amount) FROM sales_member_day WHERE member_id = $1", member) == 0
    # a backfill (after a bulk load) finds the refunded ticket already counted
    assert await conn.fetchval("SELECT analytics_backfill()") == 0
    assert await conn.fetchval("SELECT sum(amount) FROM sales_ticket_fact") == 0


async def test_a_ticket_loaded_already_refunded_is_counted_as_sold_by_the_backfill(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t = await shop.issue(conn, "apple", lines=1)
    result = await service.settle(conn, shop.who(), checkout([t], tender("cash", t.total)), pay, CONFIG)
    await refunds.refund(conn, shop.who(), RefundRequest(id=new_id(), checkout_id=result.id, ticket_ids=[t.id]), pay,
                         CONFIG, settings)  # fmt: skip
    async with conn.transaction():  # as if the facts had never been written (a bulk load)
        for table in ("sales_line_fact", "sales_ticket_fact", "sales_tender_fact"):
            await conn.execute(f"DELETE FROM {table}")
    assert await conn.fetchval("SELECT analytics_backfill()") == 1
    assert await conn.fetchval("SELECT sum(amount) FROM sales_ticket_fact WHERE refund_id IS NULL") == t.total
    assert await conn.fetchval("SELECT sum(amount) FROM sales_ticket_fact") == 0


async def test_a_ticket_of_a_merged_member_paid_after_the_merge_counts_for_the_survivor(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    survivor, absorbed = list(shop.members.values())[:2]
    t = await shop.issue(conn, "apple", member_id=absorbed, lines=1)  # issued before the merge
    async with conn.transaction():
        await members.merge(
            conn, shop.store_id, MergeRequest(survivor_id=survivor, absorbed_id=absorbed, movement_id=new_id())
        )
    await service.settle(conn, shop.who(), checkout([t], tender("cash", t.total)), pay, CONFIG)
    assert await conn.fetchval("SELECT member_id FROM sales_ticket_fact WHERE ticket_id = $1", t.id) == survivor
    assert await conn.fetchval("SELECT count(*) FROM sales_line_fact WHERE member_id = $1", absorbed) == 0
    assert await conn.fetchval("SELECT count(*) FROM sales_member_day WHERE member_id = $1", absorbed) == 0
    assert await conn.fetchval("SELECT sum(amount) FROM sales_member_day WHERE member_id = $1", survivor) >= t.total


async def test_a_merge_waits_for_a_checkout_of_the_absorbed_member_in_flight_and_moves_its_sale(
    db_dsn: str, conn: asyncpg.Connection, shop: Shop
) -> None:
    survivor, absorbed = list(shop.members.values())[:2]
    t = await shop.issue(conn, "apple", member_id=absorbed, lines=1)
    paying = await asyncpg.connect(db_dsn)
    try:
        tx = paying.transaction()
        await tx.start()
        # what a checkout of this member holds until it commits; its sales facts are written at commit
        await paying.execute(checkout_sql.LOCK_CHECKOUT_KEYS, new_id(), absorbed)
        await paying.execute("UPDATE ticket SET state = 'paid' WHERE id = $1", t.id)

        async def merge() -> None:
            async with conn.transaction():
                await members.merge(
                    conn, shop.store_id, MergeRequest(survivor_id=survivor, absorbed_id=absorbed, movement_id=new_id())
                )

        merging = asyncio.create_task(merge())
        await asyncio.sleep(0.3)
        assert not merging.done(), "the merge must wait for the checkout in flight"
        await tx.commit()
        await asyncio.wait_for(merging, 5)
    finally:
        await paying.close()
    assert await conn.fetchval("SELECT member_id FROM sales_ticket_fact WHERE ticket_id = $1", t.id) == survivor
    assert await conn.fetchval("SELECT count(*) FROM sales_member_day WHERE member_id = $1", absorbed) == 0
