"""The fact tables are written by the database when a ticket is paid or refunded, whatever code path."""

from __future__ import annotations

from datetime import date

import asyncpg

from tests.server.reports.conftest import November


async def test_paid_tickets_and_refunds_leave_facts(november: November, conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "SELECT refund_id IS NOT NULL AS refund, tickets, amount, cost, promo_amount, hour FROM sales_ticket_fact"
    )
    assert sorted(tuple(r) for r in rows) == sorted(
        [
            (False, 1, 179800, 2 * 65000, 179800, 10),  # K1, Huawei counter
            (False, 1, 769800, 140000 + 520000, 169900, 10),  # K1, Apple counter
            (False, 1, 59700, 3 * 9000, 0, 15),
            (False, 1, 249900, 180000, 0, 19),
            (True, 0, -89900, -65000, -89900, 11),  # the refund, at its own hour
            (False, 1, 189900, 140000, 0, 19),
        ]
    )
    k1 = await conn.fetchval(
        "SELECT sum(visits) FROM sales_ticket_fact WHERE checkout_id = $1", november.k1.checkout_id
    )
    assert k1 == 1
    # Exactly one ticket of the two-ticket checkout counts as the customer's transaction.
    assert await conn.fetchval("SELECT sum(visits) FROM sales_ticket_fact") == 4
    tenders = await conn.fetch("SELECT kind, sum(amount) AS s FROM sales_tender_fact GROUP BY kind ORDER BY kind")
    assert {r["kind"]: r["s"] for r in tenders} == {
        "card": 769800,
        "cash": 179800 + 59700 - 89900,
        "stored_value": 189900,
        "wallet": 249900,
    }
    # Members' days: A on 2 Nov (two tickets, one transaction), 21 Nov (the refund), 25 Nov; B on 20 Nov.
    days = await conn.fetch(
        "SELECT member_id, day, tickets, visits, amount, cost, promo_amount FROM sales_member_day ORDER BY day"
    )
    assert [tuple(r)[1:] for r in days] == [
        (date(2026, 11, 2), 2, 1, 769800 + 179800, 660000 + 130000, 169900 + 179800),
        (date(2026, 11, 20), 1, 1, 249900, 180000, 0),
        (date(2026, 11, 21), 0, 0, -89900, -65000, -89900),
        (date(2026, 11, 25), 1, 1, 189900, 140000, 0),
    ]
    assert [r["member_id"] for r in days] == [november.a, november.b, november.a, november.a]
    lines = await conn.fetchval("SELECT count(*) FROM sales_line_fact")
    assert lines == 6 + 1


async def test_backfill_rebuilds_the_same_facts(november: November, conn: asyncpg.Connection) -> None:
    before = await conn.fetch("SELECT * FROM sales_line_fact ORDER BY ticket_id, line_no, refund_id NULLS FIRST")
    days_before = await conn.fetch("SELECT * FROM sales_member_day ORDER BY member_id, day")
    await conn.execute("TRUNCATE sales_line_fact, sales_ticket_fact, sales_tender_fact, sales_member_day")
    assert await conn.fetchval("SELECT analytics_backfill()") == 5
    after = await conn.fetch("SELECT * FROM sales_line_fact ORDER BY ticket_id, line_no, refund_id NULLS FIRST")
    assert [dict(r) for r in after] == [dict(r) for r in before]
    days = await conn.fetch("SELECT * FROM sales_member_day ORDER BY member_id, day")
    assert [dict(r) for r in days] == [dict(r) for r in days_before]
    assert await conn.fetchval("SELECT sum(amount) FROM sales_tender_fact") == 949600 + 59700 + 249900 + 189900 - 89900
