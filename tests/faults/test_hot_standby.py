"""Hot standby: a streaming replica takes over after the primary dies; nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from bench.common import prepare_database, server_process
from server.db.embedded import EmbeddedPostgres


async def _wait_streaming(primary_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(primary_dsn)
    try:
        for _ in range(200):
            state = await conn.fetchval("SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", name)
            if state == "sync":
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the standby never became a synchronous replica")
    finally:
        await conn.close()


@pytest.mark.fault
async def test_promoted_replica_has_every_acknowledged_write_and_serves() -> None:
    root = Path(tempfile.mkdtemp(prefix="ft-standby-"))
    root.chmod(0o755)
    primary = EmbeddedPostgres(root / "primary")
    primary.start()
    standby: EmbeddedPostgres | None = None
    try:
        await prepare_database(primary.dsn)
        standby = primary.make_standby(root / "standby", name="standby1")
        admin = await asyncpg.connect(primary.dsn)
        await admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.close()
        await _wait_streaming(primary.dsn, "standby1")

        # Acknowledged writes: each commit returns only once the standby has it (synchronous commit).
        conn = await asyncpg.connect(primary.dsn)
        for i in range(50):
            await conn.execute("INSERT INTO audit_log (action, object_id) VALUES ('standby-test', $1)", str(i))
        await conn.close()

        primary.stop("immediate")  # the primary dies without a clean shutdown
        standby.promote()

        conn = await asyncpg.connect(standby.dsn)
        try:
            count = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'standby-test'")
            assert count == 50
            assert not await conn.fetchval("SELECT pg_is_in_recovery()")  # it accepts writes now
            await conn.execute("INSERT INTO audit_log (action) VALUES ('after-failover')")
        finally:
            await conn.close()

        # The server runs against the promoted replica.
        with server_process(standby.dsn) as base:
            import urllib.request

            with urllib.request.urlopen(base + "/health", timeout=5) as r:
                assert r.status == 200
    finally:
        if standby is not None:
            standby.stop("immediate")
        primary.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
