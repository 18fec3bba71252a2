"""PostgreSQL restarts under load: the server answers 503 ``database_unavailable`` while it is down and
serves again when it is back, without being restarted itself (the pool reconnects)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from bench.common import prepare_database
from protocol.errors import Codes
from protocol.tickets import BatchResult, CommandBatch, IssueTicket
from server.db.embedded import EmbeddedPostgres
from tests.faults.servers import ServerProcess, applied
from tests.ticket_helpers import catalog, device, draft, issue

pytestmark = [pytest.mark.fault, pytest.mark.timeout(90)]


async def test_the_server_rides_through_a_database_restart_and_loses_nothing() -> None:
    root = Path(tempfile.mkdtemp(prefix="ft-pgrestart-"))
    root.chmod(0o755)
    pg = EmbeddedPostgres(root / "pg")
    pg.start(fast=True)
    server: ServerProcess | None = None
    try:
        await prepare_database(pg.dsn)
        conn = await asyncpg.connect(pg.dsn)
        try:
            cat = await catalog(conn)
            handheld, token = await device(conn, "Handheld Apple 1")
        finally:
            await conn.close()
        server = await ServerProcess(pg.dsn, env={"FT_POOL_MIN": "4"}).start()
        pid = server.proc.pid if server.proc else 0
        headers = {"Authorization": f"Device {token}", "Content-Type": "application/json"}
        commands: list[IssueTicket] = []
        answers: Counter[tuple[int, str]] = Counter()
        stop = asyncio.Event()

        async def worker(http: httpx.AsyncClient) -> None:
            while not stop.is_set():
                command = issue(draft(cat, device_id=handheld.device_id), len(commands) + 1)
                commands.append(command)
                pending = [command]
                while pending and not stop.is_set():
                    r = await http.post("/sync/commands", content=msgspec.json.encode(CommandBatch(commands=pending)))
                    if r.status_code == 200:
                        result = msgspec.json.decode(r.content, type=BatchResult)
                        answers[(200, result.results[0].status)] += 1
                        if result.results[0].status != "rejected":
                            pending = []
                    else:
                        answers[(r.status_code, msgspec.json.decode(r.content)["code"])] += 1
                        await asyncio.sleep(0.02)
                await asyncio.sleep(0.01)

        async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=10) as http:
            load = [asyncio.create_task(worker(http))]  # one device: its sequence numbers stay in order
            await asyncio.sleep(0.5)
            await asyncio.to_thread(pg.stop, "fast")
            await asyncio.sleep(1.0)
            health = await http.get("/health")
            assert health.status_code == 503
            assert msgspec.json.decode(health.content)["database"] == "unreachable"
            refused = await http.post("/sync/commands", content=msgspec.json.encode(CommandBatch(commands=[])))
            assert refused.status_code == 503
            assert msgspec.json.decode(refused.content)["code"] == Codes.DATABASE_UNAVAILABLE

            await asyncio.to_thread(pg.start, True)
            started = time.monotonic()
            while (await http.get("/health")).status_code != 200:
                assert time.monotonic() - started < 20, "the pool never reconnected"
                await asyncio.sleep(0.1)
            before = sum(n for (status, _), n in answers.items() if status == 200)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*load)
            # The device's outbox is sent again whole: whatever was applied replays, the rest applies.
            r = await http.post("/sync/commands", content=msgspec.json.encode(CommandBatch(commands=commands)))
            assert r.status_code == 200
            final = msgspec.json.decode(r.content, type=BatchResult)
            assert {x.status for x in final.results} <= {"applied", "replayed"}

        assert server.alive  # never restarted: the same process serves again
        assert server.proc is not None
        assert server.proc.pid == pid
        statuses = {status for status, _ in answers}
        assert statuses <= {200, 503}, answers  # never a 500, never a hang
        assert answers[(503, Codes.DATABASE_UNAVAILABLE)] > 0
        assert sum(n for (status, _), n in answers.items() if status == 200) > before  # serving again
        assert not any(code == "rejected" for _, code in answers)

        conn = await asyncpg.connect(pg.dsn)
        try:
            done = await applied(conn, handheld.device_id, cat.store_id)
        finally:
            await conn.close()
        assert done.commands == len(commands)
        assert done.statuses == {"applied": done.commands}
        assert done.seqs_without_gaps
        assert done.positions_without_gaps
        assert done.events == done.commands
    finally:
        if server is not None:
            server.stop()
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
