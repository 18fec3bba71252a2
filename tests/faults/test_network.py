"""The network between a handheld and the server degrades (latency, resets mid-stream, a half-open link,
a slow reader) through a TCP proxy: the real transport and device store resume from their position,
and nothing is lost or applied twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from server.demo import DemoInfo
from tests.faults.devices import Device, database_view, settle, until
from tests.faults.proxy import Faults, TcpProxy
from tests.faults.servers import ServerProcess, applied
from tests.ticket_helpers import catalog, device

pytestmark = [pytest.mark.fault, pytest.mark.timeout(60)]


@dataclass
class Floor:
    server: ServerProcess
    proxy: TcpProxy
    apple: Device  # behind the proxy
    huawei: Device  # straight to the server

    @property
    def devices(self) -> list[Device]:
        return [self.apple, self.huawei]


@contextlib.asynccontextmanager
async def floor(conn: asyncpg.Connection, db_dsn: str, tmp_path: Path, **env: str) -> AsyncIterator[Floor]:
    apple_cat, huawei_cat = await catalog(conn, "C-APL"), await catalog(conn, "C-HUA")
    apple, apple_token = await device(conn, "Handheld Apple 1")
    huawei, huawei_token = await device(conn, "Handheld Huawei 1")
    server = await ServerProcess(db_dsn, env=env).start()
    proxy = await TcpProxy("127.0.0.1", server.port).start()
    a = Device.open(tmp_path, "apple", apple.device_id, apple_token, apple_cat, f"ws://127.0.0.1:{proxy.port}/ws")
    h = Device.open(tmp_path, "huawei", huawei.device_id, huawei_token, huawei_cat, server.ws_url)
    try:
        a.start()
        h.start()
        await until(lambda: a.transport.status.online and h.transport.status.online, 15, "both online")
        yield Floor(server, proxy, a, h)
    finally:
        await a.stop()
        await h.stop()
        await proxy.stop()
        server.stop()


async def _check(conn: asyncpg.Connection, f: Floor) -> None:
    store_id = f.apple.cat.store_id
    head = await settle(f.devices, conn, store_id)
    view, _ = await database_view(conn, store_id)
    for d in f.devices:
        assert d.view() == view, f"{d.name} sees what the database holds"
        assert d.positions_in_order(), f"{d.name} applied every position once, in order"
        assert len(d.events) == head
        done = await applied(conn, d.device_id, store_id)
        assert done.commands == len(d.sent)
        assert done.statuses == {"applied": len(d.sent)}
        assert done.seqs_without_gaps
        assert done.last_seq == len(d.sent)
    assert sum(len(d.sent) for d in f.devices) == head  # one event per issued ticket, none twice


async def test_latency_and_resets_mid_stream_lose_and_duplicate_nothing(
    conn: asyncpg.Connection, db_dsn: str, demo: DemoInfo, tmp_path: Path
) -> None:
    async with floor(conn, db_dsn, tmp_path) as f:
        f.proxy.faults = Faults(latency_s=0.03)
        for i in range(30):
            f.apple.issue()
            f.huawei.issue()
            if i % 6 == 2:
                f.proxy.cut_all()  # reset in the middle of submits, results and events
            await asyncio.sleep(0.02)
        await _check(conn, f)
        assert f.proxy.connections >= 5  # it really was cut and came back each time


async def test_a_half_open_link_is_detected_by_the_heartbeat_and_the_device_resumes(
    conn: asyncpg.Connection, db_dsn: str, demo: DemoInfo, tmp_path: Path
) -> None:
    async with floor(conn, db_dsn, tmp_path, FT_WS_PING_INTERVAL="0.5", FT_WS_IDLE_TIMEOUT="1.5") as f:
        f.apple.issue()
        await settle(f.devices, conn, f.apple.cat.store_id)
        f.proxy.faults = Faults(half_open=True)  # no FIN, no RST: the bytes just stop
        lost = f.apple.issue()  # written into the dead link
        for _ in range(5):
            f.huawei.issue()
        await until(lambda: not f.apple.transport.status.online, 5, "the heartbeat noticed the dead link")
        await asyncio.sleep(0.5)  # new connections hang too; the device stays offline, the ticket waits
        assert not f.apple.transport.status.online
        assert f.apple.store.outbox_count() == 1
        f.proxy.faults = Faults()
        await _check(conn, f)
        assert await conn.fetchval("SELECT count(*) FROM ticket WHERE id = $1", lost.ticket.id) == 1


async def test_a_slow_reader_neither_stalls_others_nor_misses_events_and_resumes_after_a_restart(
    conn: asyncpg.Connection, db_dsn: str, demo: DemoInfo, tmp_path: Path
) -> None:
    async with floor(conn, db_dsn, tmp_path) as f:
        f.proxy.faults = Faults(slow_bytes_per_s=20_000)
        for _ in range(40):
            f.huawei.issue()
        store_id = f.huawei.cat.store_id
        # The fast device is done long before the slow one has read the events.
        await until(lambda: f.huawei.idle and f.huawei.store.position == 40, 15, "the fast device is not held up")
        assert f.apple.store.position < 40
        await f.apple.restart_app()  # the app is closed and opened with what it had stored
        f.apple.issue()
        await asyncio.sleep(0.3)
        f.proxy.faults = Faults()
        await _check(conn, f)
        _, head = await database_view(conn, store_id)
        assert head == 41
