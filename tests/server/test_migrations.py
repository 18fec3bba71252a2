import asyncio

import asyncpg

from server.db.migrate import available, current_version, migrate
from tests.pg import Cluster


async def test_migrates_an_empty_database_and_records_every_step(cluster: Cluster) -> None:
    async with cluster.database(template="template0") as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            assert await current_version(conn) == 0
            applied = await migrate(conn)
            assert applied == [m.name for m in available()]
            assert await current_version(conn) == available()[-1].version
            assert await migrate(conn) == []  # a second run does nothing
            assert await conn.fetchval("SELECT to_regclass('store') IS NOT NULL")
        finally:
            await conn.close()


async def test_two_servers_migrating_together_apply_each_step_once(cluster: Cluster) -> None:
    async with cluster.database(template="template0") as dsn:
        conns = [await asyncpg.connect(dsn) for _ in range(3)]
        try:
            results = await asyncio.gather(*(migrate(c) for c in conns))
            applied = [name for r in results for name in r]
            assert sorted(applied) == sorted(m.name for m in available())
            rows = await conns[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
            assert [r["version"] for r in rows] == [m.version for m in available()]
        finally:
            for c in conns:
                await c.close()


async def test_a_failing_migration_leaves_no_partial_change(cluster: Cluster) -> None:
    async with cluster.database(template="template0") as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
            before = await current_version(conn)
            try:
                async with conn.transaction():
                    await conn.execute("CREATE TABLE half_done (id int)")
                    await conn.execute("SELECT * FROM no_such_table")
            except asyncpg.UndefinedTableError:
                pass
            assert not await conn.fetchval("SELECT to_regclass('half_done') IS NOT NULL")
            assert await current_version(conn) == before
        finally:
            await conn.close()


async def test_audit_log_refuses_edits(conn: asyncpg.Connection) -> None:
    await conn.execute("INSERT INTO audit_log (action) VALUES ('test')")
    try:
        await conn.execute("UPDATE audit_log SET action = 'changed'")
        raise AssertionError("update was allowed")
    except asyncpg.InsufficientPrivilegeError:
        pass
    assert await conn.fetchval("SELECT action FROM audit_log") == "test"
