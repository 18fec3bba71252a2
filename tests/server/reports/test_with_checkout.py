"""The facts follow the real checkout and refund services: paid tickets, tenders and a refund."""

from __future__ import annotations

import asyncpg

from protocol.checkout import RefundRequest
from protocol.ids import new_id
from server.checkout import refunds, service
from server.checkout.service import Payments
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
