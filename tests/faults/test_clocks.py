"""Devices whose clocks are hours off: the store's order (positions) follows the server, and a ticket's
business day and expiry come from the server's clock, never the device's."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from protocol.tickets import BatchResult, CommandBatch, IssueTicket
from server.demo import DemoInfo
from server.tickets.expiry import expire_due
from tests.ticket_helpers import catalog, device, draft

pytestmark = [pytest.mark.fault, pytest.mark.timeout(30)]

HOUR_MS = 3_600_000


async def test_clocks_hours_off_change_neither_order_nor_business_day_nor_expiry(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, demo: DemoInfo
) -> None:
    apple_cat, huawei_cat = await catalog(conn, "C-APL"), await catalog(conn, "C-HUA")
    apple, apple_token = await device(conn, "Handheld Apple 1")
    huawei, huawei_token = await device(conn, "Handheld Huawei 1")
    now_ms = time.time_ns() // 1_000_000
    # The Apple handheld runs 10 hours fast, the Huawei one 11 hours slow (yesterday, in Shanghai).
    skews = [(apple, apple_token, apple_cat, +10 * HOUR_MS), (huawei, huawei_token, huawei_cat, -11 * HOUR_MS)]
    sent: list[tuple[str, int]] = []
    seqs = {apple.device_id: 0, huawei.device_id: 0}
    for round_no in range(3):
        for caller, token, cat, skew in skews if round_no % 2 == 0 else reversed(skews):
            seqs[caller.device_id] += 1
            device_now = now_ms + skew
            ticket = msgspec.structs.replace(draft(cat, device_id=caller.device_id), issued_at_ms=device_now)
            command = IssueTicket(
                command_id=ticket.id, device_seq=seqs[caller.device_id], made_at_ms=device_now, ticket=ticket
            )
            r = await client.post(
                "/sync/commands",
                content=msgspec.json.encode(CommandBatch(commands=[command])),
                headers={"Authorization": f"Device {token}", "Content-Type": "application/json"},
            )
            assert r.status_code == 200, r.text
            (result,) = msgspec.json.decode(r.content, type=BatchResult).results
            assert result.status == "applied"
            assert result.ticket is not None
            assert result.position is not None
            sent.append((str(result.ticket.id), result.position))
            assert result.ticket.issued_at_ms == device_now  # the device's own claim is kept, for the record

    # Order is the order the server applied them in, not the devices' timestamps.
    assert [position for _, position in sent] == [1, 2, 3, 4, 5, 6]
    logged = await conn.fetch("SELECT ticket_id::text, position, at FROM event_log ORDER BY position")
    assert [(r["ticket_id"], r["position"]) for r in logged] == sent
    stamps = [r["at"] for r in logged]
    assert stamps == sorted(stamps)  # event times are the server's, in order
    assert all(abs((s - datetime.now(UTC)).total_seconds()) < 120 for s in stamps)

    # One business day for all, from the server's clock, although the devices disagree by 21 hours.
    days = {r["business_day"] for r in await conn.fetch("SELECT business_day FROM ticket")}
    server_day = await conn.fetchval(
        "SELECT (now() AT TIME ZONE s.timezone)::date FROM store s WHERE s.id = $1", apple.store_id
    )
    assert len(days) == 1
    (day,) = days
    assert day in (server_day, server_day + timedelta(days=1))  # after 23:00 the next business day

    # Expiry runs on server time: nothing expires now (the slow device's "yesterday" does not count) ...
    assert await expire_due(conn) == 0
    assert await conn.fetchval("SELECT count(*) FROM ticket WHERE state = 'issued'") == 6
    # ... and everything expires once the server's clock passes the end of that business day.
    end = await conn.fetchval(
        "SELECT (($1::date + s.business_day_end) AT TIME ZONE s.timezone) FROM store s WHERE s.id = $2",
        day,
        apple.store_id,
    )
    assert await expire_due(conn, now=end - timedelta(minutes=1)) == 0
    assert await expire_due(conn, now=end + timedelta(minutes=1)) == 6
