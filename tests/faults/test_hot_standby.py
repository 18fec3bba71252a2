"""Hot standby: a streaming replica takes over after the primary dies; nothing acknowledged is lost,
settled checkouts included (tickets paid, member earning, ledger invariants)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from bench.common import prepare_database, server_process
from server.checkout import service as checkout
from server.checkout.service import Payments
from server.db.embedded import EmbeddedPostgres
from server.ledger.jobs import check_invariants
from server.payments.simulator import SimulatorProvider
from tests.server.checkout.conftest import CONFIG, open_shop, tender
from tests.server.checkout.conftest import checkout as checkout_request
from tests.server.payments.conftest import FAST

CHECKOUTS = 5


async def _settle_checkouts(dsn: str) -> set[str]:
    """Settle CHECKOUTS consolidated checkouts (two counters, cash, a member) on ``dsn``; their ids."""
    conn = await asyncpg.connect(dsn)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        store_id = await conn.fetchval("SELECT id FROM store WHERE code = 'SH01'")
        shop = await open_shop(conn, store_id)
        pay = Payments(SimulatorProvider(pool, hang_s=FAST.sim_hang_s, unknown_settle_s=0.0), FAST)
        member = next(iter(shop.members.values()))
        settled = set()
        for _ in range(CHECKOUTS):
            tickets = [
                await shop.issue(conn, "apple", member_id=member),
                await shop.issue(conn, "huawei", member_id=member),
            ]
            total = sum(t.total for t in tickets)
            req = checkout_request(tickets, tender("cash", total + 100), member_id=member)
            result = await checkout.settle(conn, shop.who(), req, pay, CONFIG)
            assert result.points_earned > 0
            settled.add(str(result.id))
        return settled
    finally:
        await pool.close()
        await conn.close()


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
@pytest.mark.timeout(90)
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
        settled = await _settle_checkouts(primary.dsn)
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
            rows = await conn.fetch("SELECT id::text FROM checkout WHERE state = 'settled'")
            assert {r["id"] for r in rows} >= settled  # every settled checkout survived the fail-over
            paid = await conn.fetchval(
                "SELECT count(*) FROM checkout_ticket ct JOIN ticket t ON t.id = ct.ticket_id"
                " WHERE ct.checkout_id::text = ANY($1::text[]) AND t.state = 'paid'",
                list(settled),
            )
            assert paid == 2 * CHECKOUTS
            report = await check_invariants(conn)
            assert report.ok, report.problems
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
