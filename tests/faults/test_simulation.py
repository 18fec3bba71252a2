"""A seeded simulation in the spirit of Jepsen tests of sync systems: handhelds and a till (the real
device store, sync core and transport) work against two real server processes while the network
between each device and its server is randomly cut, delayed or left half-open and servers are killed
with SIGKILL. Then the network heals and we check: every device's view equals the database, every
command has exactly one outcome, and every device applied every position once, in order."""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import asyncpg
import pytest

from protocol.ids import new_id
from protocol.tickets import VoidTicket
from server.demo import DemoInfo
from tests.faults.devices import Device, database_view, settle
from tests.faults.proxy import Faults, TcpProxy
from tests.faults.servers import ServerProcess
from tests.ticket_helpers import catalog, device

pytestmark = [pytest.mark.fault, pytest.mark.timeout(120)]

SEED = int(os.environ.get("FT_SIM_SEED", "20240607"))
SECONDS = float(os.environ.get("FT_SIM_SECONDS", "20"))


async def test_devices_under_partitions_and_server_kills_converge_on_the_database(
    conn: asyncpg.Connection, db_dsn: str, demo: DemoInfo, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    env = {"FT_WS_PING_INTERVAL": "0.5", "FT_WS_IDLE_TIMEOUT": "2"}
    servers = [ServerProcess(db_dsn, env=env), ServerProcess(db_dsn, env=env)]
    await asyncio.gather(*(s.start() for s in servers))
    proxies: list[TcpProxy] = []
    devices: list[Device] = []
    try:
        plan = [("Handheld Apple 1", "C-APL"), ("Handheld Huawei 1", "C-HUA"), ("Till 1", "C-APL")]
        for i, (label, counter) in enumerate(plan):
            caller, token = await device(conn, label)
            proxy = await TcpProxy("127.0.0.1", servers[i % 2].port).start()
            proxies.append(proxy)
            d = Device.open(
                tmp_path,
                f"d{i}",
                caller.device_id,
                token,
                await catalog(conn, counter),
                f"ws://127.0.0.1:{proxy.port}/ws",
            )
            devices.append(d)
            d.start()
        handhelds, till = devices[:2], devices[2]

        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            roll = rng.random()
            if roll < 0.55:
                rng.choice(handhelds).issue()
            elif roll < 0.65 and till.store.tickets():
                target = rng.choice(till.store.tickets())
                till.submit(
                    lambda seq, t=target.id: VoidTicket(command_id=new_id(), device_seq=seq, ticket_id=t, reason="sim")
                )
            elif roll < 0.80:
                proxy = rng.choice(proxies)
                proxy.faults = rng.choice(
                    [Faults(), Faults(latency_s=0.05), Faults(half_open=True), Faults(slow_bytes_per_s=20_000)]
                )
                if rng.random() < 0.5:
                    proxy.cut_all()
            elif roll < 0.83:
                server = rng.choice(servers)
                server.kill()
                await asyncio.sleep(rng.uniform(0.1, 1.0))
                await server.start()
            elif roll < 0.85:
                await rng.choice(devices).restart_app()
            await asyncio.sleep(rng.uniform(0.01, 0.15))

        for proxy in proxies:  # heal
            proxy.faults = Faults()
        for server in servers:
            if not server.alive:
                await server.start()
        store_id = devices[0].cat.store_id
        head = await settle(devices, conn, store_id, timeout=45)

        view, _ = await database_view(conn, store_id)
        sent = {c.command_id for d in devices for c in d.sent}
        rows = await conn.fetch("SELECT command_id, device_id, device_seq, status FROM applied_command")
        assert {r["command_id"] for r in rows} == sent  # every command has exactly one outcome ...
        assert len(rows) == len(sent)  # ... stored once
        for d in devices:
            assert d.view() == view, f"{d.name} sees what the database holds"
            assert d.positions_in_order(), f"{d.name} applied each position once, in order"
            assert d.store.position == head
            seqs = sorted(r["device_seq"] for r in rows if r["device_id"] == d.device_id)
            assert seqs == list(range(1, len(d.sent) + 1))
        issued = sum(1 for r in rows if r["status"] == "applied" and r["device_id"] != till.device_id)
        voided = sum(1 for r in rows if r["status"] == "applied" and r["device_id"] == till.device_id)
        assert head == issued + voided  # one event per applied change, none twice
        assert issued > 10
        assert sum(s.starts for s in servers) > 2 or SECONDS < 5  # servers really were killed
    finally:
        for d in devices:
            await d.stop()
        for proxy in proxies:
            await proxy.stop()
        for server in servers:
            server.stop()
