"""Member reports over 1M tickets and 100k members (target: ≤ 2 s each).

A private PostgreSQL gets the demo store plus a generated year of history (``server.history``:
1,000,000 tickets, 100,000 members, 5 stores; ``FT_BENCH_TICKETS`` / ``FT_BENCH_MEMBERS`` choose a
smaller size, which the note states). Each report is timed as the admin API runs it (SQL, shaping,
JSON encoding), chain-wide over the last 365 days: the best of three runs after one warm-up.
Baseline in the same run: the bare aggregate SQL a report would otherwise start from: spend and
checkouts per member straight from the paid tickets and their lines.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg

from bench.common import Result, postgres, prepare_database
from protocol.codec import encode
from protocol.reports import Scope
from server.history import generate
from server.reports import service
from server.reports.scope import Resolved, local_today

TICKETS = int(os.environ.get("FT_BENCH_TICKETS", "1000000"))
MEMBERS = int(os.environ.get("FT_BENCH_MEMBERS", "100000"))
STORES = 5
TARGET_MS = 2000.0
RUNS = 3

BARE_AGGREGATE = """
SELECT t.member_id, sum(l.line_total) AS spend, count(DISTINCT t.checkout_id) AS checkouts
FROM ticket t JOIN ticket_line l ON l.ticket_id = t.id
WHERE t.state IN ('paid', 'released') AND t.member_id IS NOT NULL AND t.business_day BETWEEN $1 AND $2
GROUP BY t.member_id
"""

Report = Callable[[asyncpg.Connection, Resolved], Awaitable[Any]]

REPORTS: dict[str, Report] = {
    "member contribution": lambda c, r: service.contribution(c, r, split="member", limit=100, offset=0),
    "member potential": lambda c, r: service.potential(c, r, buckets=4, flagged_only=False, limit=100, offset=0),
    "RFM scores": lambda c, r: service.rfm(c, r, segments=[], limit=100, offset=0),
    "RFM segments": service.rfm_segments,
    "customer states": lambda c, r: service.states(c, r, only=[], limit=100, offset=0),
    "promotion by member": lambda c, r: service.promotion_members(c, r, min_sales=0, limit=100, offset=0),
    "category analysis": lambda c, r: service.categories(c, r, "category"),
    "sales structure": service.sales_structure,
}


async def _best(run: Callable[[], Awaitable[Any]]) -> float:
    await run()
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        await run()
        times.append((time.perf_counter() - began) * 1000)
    return min(times)


async def _measure(dsn: str) -> list[Result]:
    await prepare_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        began = time.monotonic()
        made = await generate(
            conn, tickets=TICKETS, members=MEMBERS, stores=STORES, progress=lambda s: print(s, flush=True)
        )
        generation = time.monotonic() - began
        store = await conn.fetchval("SELECT id FROM store ORDER BY code LIMIT 1")
        end = await local_today(conn, store)
        start = end - timedelta(days=364)
        stores: list[uuid.UUID] = [r["id"] for r in await conn.fetch("SELECT id FROM store ORDER BY code")]
        scope = Resolved(
            scope=Scope(period_from=start, period_to=end, store_ids=stores),
            stores=stores,
            chain_wide=True,
            show_personal=False,
        )
        baseline = await _best(lambda: conn.fetch(BARE_AGGREGATE, start, end))
        size = (
            f"{made.tickets:,} tickets, {made.members:,} members, {len(stores)} stores; generated in {generation:.0f} s"
        )
        results = []
        for name, report in REPORTS.items():

            async def run(report: Report = report) -> bytes:
                return encode(await report(conn, scope))

            ms = await _best(run)
            results.append(
                Result(
                    name=f"report: {name}",
                    figure=ms,
                    unit="ms",
                    baseline=baseline,
                    baseline_label="bare aggregate SQL over tickets",
                    target=f"≤ {TARGET_MS:.0f} ms",
                    met=ms <= TARGET_MS,
                    note=size if name == "member contribution" else "",
                )
            )
        return results
    finally:
        await conn.close()


def run() -> list[Result]:
    with postgres() as pg:
        return asyncio.run(_measure(pg.dsn))
