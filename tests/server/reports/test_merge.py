"""A member merge moves the absorbed record's sales history: member reports see one customer."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from protocol.ids import new_id
from server.db.migrate import available
from tests.server.reports.conftest import November
from tests.server.reports.test_reports import get


async def merge(client: AsyncTestClient[Any], headers: dict[str, str], survivor: Any, absorbed: Any) -> None:
    body = {"survivor_id": str(survivor), "absorbed_id": str(absorbed), "movement_id": str(new_id())}
    r = await client.post("/api/members/merge", json=body, headers=headers)
    assert r.status_code == 201, r.text


async def test_member_reports_see_one_customer_after_a_merge(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str], conn: asyncpg.Connection
) -> None:
    before = await get(client, "/member-contribution", manager)
    assert before["members_total"] == 2
    spend = {r["member_id"]: (r["spend"], r["transactions"]) for r in before["rows"]}
    assert spend == {str(november.a): (1049600, 2), str(november.b): (249900, 1)}

    await merge(client, manager, november.a, november.b)

    after = await get(client, "/member-contribution", manager)
    assert after["members_total"] == 1
    (a,) = after["rows"]
    assert (a["member_id"], a["spend"], a["transactions"]) == (str(november.a), 1049600 + 249900, 3)
    assert a["gross_profit"] == (1049600 - (660000 + 130000 + 140000 - 65000)) + 69900
    rfm = await get(client, "/rfm", manager)
    assert [(r["member_id"], r["frequency"], r["monetary"]) for r in rfm["rows"]] == [
        (str(november.a), 3, 1049600 + 249900)
    ]
    states = await get(client, "/customer-states", manager)
    assert {r["member_id"]: r["state"] for r in states["rows"]} == {
        str(november.a): "loyal" if states["thresholds"]["loyal_min_transactions"] <= 3 else "repeat",
        str(november.c): "prospect",
    }
    potential = await get(client, "/member-potential", manager, buckets=2)
    (row,) = potential["rows"]
    assert row["spend_by_bucket"] == [949600, 249900 + 189900 - 89900]
    # promotion sensitivity and the facts themselves carry the survivor only
    promo = await get(client, "/promotion/members", manager)
    assert [r["member_id"] for r in promo["rows"]] == [str(november.a)]
    for table in ("sales_ticket_fact", "sales_line_fact", "sales_member_day"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE member_id = $1", november.b) == 0
    # the members' days add up to the ticket facts, day by day
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM (SELECT day, sum(amount) FROM sales_ticket_fact WHERE member_id = $1 GROUP BY day"
            " EXCEPT SELECT day, sum(amount) FROM sales_member_day WHERE member_id = $1 GROUP BY day) x",
            november.a,
        )
        == 0
    )


async def test_the_migration_joins_the_history_of_members_merged_before_it(
    november: November, conn: asyncpg.Connection
) -> None:
    # a merge as it was before: the record marked merged, its sales history left behind
    await conn.execute("UPDATE member SET state = 'merged', merged_into = $2 WHERE id = $1", november.b, november.a)
    assert await conn.fetchval("SELECT count(*) FROM sales_member_day WHERE member_id = $1", november.b) > 0
    (migration,) = [m for m in available() if m.version == 9]
    backfill = migration.sql[migration.sql.index("-- 3. Member merges") :]
    async with conn.transaction():
        await conn.execute(backfill)
    for table in ("sales_ticket_fact", "sales_line_fact", "sales_member_day"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE member_id = $1", november.b) == 0
    assert await conn.fetchval("SELECT sum(amount) FROM sales_member_day WHERE member_id = $1", november.a) == (
        await conn.fetchval("SELECT sum(amount) FROM sales_ticket_fact WHERE member_id = $1", november.a)
    )
    assert await conn.fetchval("SELECT sum(visits) FROM sales_member_day WHERE member_id = $1", november.a) == 3
