"""kill -9 the server in the middle of a large outbox upload; the device retries: every command applied
exactly once, the device's sequence numbers and the store's positions without gaps."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import httpx
import msgspec
import pytest

from client_common.api import Api
from protocol.tickets import AnyCommand, CommandBatch
from server.demo import DemoInfo
from server.sync.service import CHUNK
from tests.faults.servers import ServerProcess, applied, last_seq
from tests.ticket_helpers import catalog, device, draft, issue

pytestmark = [pytest.mark.fault, pytest.mark.timeout(90)]

N = 1000


async def test_killed_mid_upload_the_retry_applies_every_command_exactly_once(
    conn: asyncpg.Connection, db_dsn: str, demo: DemoInfo
) -> None:
    cat = await catalog(conn)
    handheld, token = await device(conn, "Handheld Apple 1")
    commands: list[AnyCommand] = [issue(draft(cat, device_id=handheld.device_id), seq) for seq in range(1, N + 1)]
    body = msgspec.json.encode(CommandBatch(commands=commands))
    server = await ServerProcess(db_dsn).start()
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
            upload = asyncio.create_task(
                http.post(
                    "/sync/commands",
                    content=body,
                    headers={"Authorization": f"Device {token}", "Content-Type": "application/json"},
                )
            )
            async with asyncio.timeout(30):  # some chunks committed, most not yet
                while await last_seq(conn, handheld.device_id) < CHUNK:
                    await asyncio.sleep(0.005)
            server.kill()
            with pytest.raises(httpx.HTTPError):
                await upload
        before = await applied(conn, handheld.device_id, handheld.store_id)
        assert 0 < before.commands < N, "the kill came mid-upload"
        assert before.commands % CHUNK == 0, "a chunk is all or nothing"
        assert before.seqs_without_gaps
        assert before.positions_without_gaps
        assert before.events == before.commands

        await server.start()  # same port; the device's retry is its ordinary upload of the same outbox
        api = Api(server.base, device_token=token, timeout=60)
        try:
            result = await api.upload(CommandBatch(commands=commands))
            again = await api.upload(CommandBatch(commands=commands[:300]))
        finally:
            await api.aclose()
        statuses = [r.status for r in result.results]
        assert statuses == ["replayed"] * before.commands + ["applied"] * (N - before.commands)
        assert [r.status for r in again.results] == ["replayed"] * 300
        assert result.last_applied_seq == N

        after = await applied(conn, handheld.device_id, handheld.store_id)
        assert after.commands == N
        assert after.statuses == {"applied": N}
        assert after.last_seq == N
        assert after.seqs_without_gaps
        assert after.positions_without_gaps
        assert after.events == N  # one ticket_issued event per ticket, none twice
        assert await conn.fetchval("SELECT count(*) FROM ticket WHERE device_id = $1", handheld.device_id) == N
        positions = {r.ticket.id: r.position for r in result.results if r.ticket is not None}
        assert len(positions) == N  # a replay answers with the stored ticket and position
    finally:
        with contextlib.suppress(Exception):
            server.stop()
