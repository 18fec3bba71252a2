"""Two real server processes on one database: a ticket issued through A reaches a till on B."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from websockets.asyncio.client import connect

from bench.common import server_process
from protocol.codec import encode
from protocol.messages import Ping
from protocol.tickets import EventFrame, Results, Submit
from server.demo import seed_demo
from tests.pg import Cluster
from tests.server.ws_helpers import events_until_caught_up, hello, next_of
from tests.ticket_helpers import catalog, device, draft, issue


@pytest.mark.e2e
async def test_a_ticket_issued_on_one_process_reaches_a_till_on_another(cluster: Cluster) -> None:
    async with cluster.database() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await seed_demo(conn)
            _, hh_token = await device(conn, "Handheld Apple 1")
            _, till_token = await device(conn, "Till 1")
            cat = await catalog(conn)
        finally:
            await conn.close()
        with server_process(dsn) as base_a, server_process(dsn) as base_b:
            url_a, url_b = base_a.replace("http", "ws") + "/ws", base_b.replace("http", "ws") + "/ws"
            async with connect(url_b) as till, connect(url_a) as hh:
                await hello(till, till_token)
                await events_until_caught_up(till)
                await hello(hh, hh_token)
                await events_until_caught_up(hh)
                tickets = [draft(cat) for _ in range(3)]
                await hh.send(encode(Submit(commands=[issue(d, seq) for seq, d in enumerate(tickets, start=1)])))
                # The handheld's own events may arrive before or after its Results.
                results = await next_of(hh, Results, timeout=10, skip=(Ping, EventFrame))
                assert [r.status for r in results.results] == ["applied"] * 3
                received = [await next_of(till, EventFrame, timeout=10) for _ in tickets]
                assert [f.event.ticket.id for f in received] == [d.id for d in tickets]
                assert [f.event.position for f in received] == [1, 2, 3]
            # A till that was away reconnects to the other process and resumes from its position.
            async with connect(url_a) as till:
                await hello(till, till_token, last_position=2)
                assert await asyncio.wait_for(events_until_caught_up(till), 10) == ([3], 3)
