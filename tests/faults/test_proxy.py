"""The fault proxy itself behaves: latency is added, cuts drop clients, and clients recover."""

from __future__ import annotations

import time

import asyncpg
import pytest

from tests.faults.proxy import Faults, TcpProxy
from tests.pg import Cluster


def _hostport(dsn: str) -> tuple[str, int]:
    hostport = dsn.split("@", 1)[1].split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


@pytest.mark.fault
@pytest.mark.timeout(30)
async def test_cut_connection_fails_the_client_and_a_new_one_works(cluster: Cluster) -> None:
    host, port = _hostport(cluster.admin_dsn)
    proxy = await TcpProxy(host, port).start()
    try:
        dsn = cluster.admin_dsn.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
        conn = await asyncpg.connect(dsn)
        assert await conn.fetchval("SELECT 1") == 1
        proxy.cut_all()
        with pytest.raises((asyncpg.PostgresConnectionError, ConnectionError, OSError)):
            await conn.fetchval("SELECT 1")
        conn2 = await asyncpg.connect(dsn)
        assert await conn2.fetchval("SELECT 2") == 2
        await conn2.close()

        proxy.faults = Faults(latency_s=0.05)
        conn3 = await asyncpg.connect(dsn)
        started = time.monotonic()
        await conn3.fetchval("SELECT 3")
        assert time.monotonic() - started >= 0.1  # both directions delayed
        await conn3.close()

        proxy.faults = Faults(reset=True)
        with pytest.raises((ConnectionError, OSError, asyncpg.PostgresConnectionError)):
            await asyncpg.connect(dsn, timeout=3)
    finally:
        await proxy.stop()
