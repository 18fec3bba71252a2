"""The demo history generator: consistent rows, the same facts the database derives, and a demo
store whose reports have something in them at first start."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from server.demo import seed_demo
from server.history import generate
from server.settings import Settings
from tests.auth_helpers import bearer, token_for

TICKET_FACTS = """
SELECT ticket_id, store_id, format_id, counter_id, member_id, checkout_id, day, hour, tickets, amount, cost,
       promo_amount
FROM sales_ticket_fact ORDER BY ticket_id
"""
LINE_FACTS = "SELECT * FROM sales_line_fact ORDER BY ticket_id, line_no"
TENDER_FACTS = "SELECT * FROM sales_tender_fact ORDER BY tender_id"
MEMBER_DAYS = "SELECT * FROM sales_member_day ORDER BY member_id, store_id, day"
VISITS = "SELECT checkout_id, sum(visits) FROM sales_ticket_fact GROUP BY checkout_id ORDER BY checkout_id"


async def test_generated_history_is_consistent_and_its_facts_are_the_databases(conn: asyncpg.Connection) -> None:
    lines: list[str] = []
    made = await generate(conn, tickets=1500, members=150, stores=2, days=120, seed=7, progress=lines.append)
    assert made.tickets == 1500
    assert any("1,500 / 1,500 tickets" in line for line in lines)
    assert await conn.fetchval("SELECT count(*) FROM store") == 2
    assert await conn.fetchval("SELECT count(*) FROM ticket WHERE state IN ('paid', 'released')") == 1500
    assert await conn.fetchval("SELECT count(*) FROM member") == 150
    # Money adds up: ticket totals = their lines = checkout totals = tenders applied.
    assert await conn.fetchval(
        "SELECT count(*) FROM ticket t WHERE total <> (SELECT sum(line_total) FROM ticket_line WHERE ticket_id = t.id)"
    ) == 0  # fmt: skip
    totals = await conn.fetchrow(
        "SELECT (SELECT sum(total) FROM ticket) AS t, (SELECT sum(total) FROM checkout) AS c,"
        " (SELECT sum(applied) FROM tender) AS a, (SELECT sum(tendered - change) FROM checkout) AS n"
    )
    assert totals["t"] == totals["c"] == totals["a"] == totals["n"]
    # Every member who shopped somewhere is known at that store.
    assert await conn.fetchval(
        "SELECT count(*) FROM ticket t WHERE member_id IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM member_store ms WHERE ms.member_id = t.member_id AND ms.store_id = t.store_id)"
    ) == 0  # fmt: skip
    # The facts written alongside are exactly what the database derives from the rows.
    written = [await conn.fetch(q) for q in (TICKET_FACTS, LINE_FACTS, TENDER_FACTS, VISITS, MEMBER_DAYS)]
    await conn.execute("TRUNCATE sales_ticket_fact, sales_line_fact, sales_tender_fact, sales_member_day")
    assert await conn.fetchval("SELECT analytics_backfill()") == 1500
    derived = [await conn.fetch(q) for q in (TICKET_FACTS, LINE_FACTS, TENDER_FACTS, VISITS, MEMBER_DAYS)]
    for mine, theirs in zip(written, derived, strict=True):
        assert [tuple(r) for r in mine] == [tuple(r) for r in theirs]
    # Habits show: some members at promotion prices only sometimes, the share varies.
    shares = await conn.fetch(
        "SELECT sum(promo_amount)::float8 / sum(amount) AS s FROM sales_ticket_fact WHERE member_id IS NOT NULL"
        " GROUP BY member_id HAVING sum(amount) > 0"
    )
    values = [r["s"] for r in shares]
    assert min(values) < 0.2 < max(values)
    # A second run adds to the first (its ticket numbers go on).
    await generate(conn, tickets=100, members=10, stores=2, days=30, seed=7)
    assert await conn.fetchval("SELECT count(*) FROM sales_ticket_fact") == 1600


async def test_demo_store_has_history_for_the_reports(
    db_dsn: str, client: AsyncTestClient[Any], settings: Settings
) -> None:
    c = await asyncpg.connect(db_dsn)
    try:
        info = await seed_demo(c, history_tickets=800)
        assert info.created
        assert await c.fetchval("SELECT count(*) FROM ticket WHERE store_id = $1", info.store_id) == 800
        headers = bearer(await token_for(c, "M001", settings.secret_key))
    finally:
        await c.close()
    year = {"from": "2020-01-01"}
    r = await client.get("/api/admin/reports/categories", params=year, headers=headers)
    assert r.status_code == 200, r.text
    cats = r.json()
    assert len(cats["rows"]) >= 5
    assert cats["total"]["tickets"] == 800
    states = (await client.get("/api/admin/reports/customer-states/summary", headers=headers)).json()
    present = {r["state"] for r in states["rows"] if r["members"]}
    assert {"new", "repeat", "lost"} <= present
    rfm = (await client.get("/api/admin/reports/rfm/segments", params=year, headers=headers)).json()
    assert sum(1 for r in rfm["rows"] if r["members"]) >= 4
    potential = (await client.get("/api/admin/reports/member-potential", params=year, headers=headers)).json()
    assert potential["flagged_total"] > 0
