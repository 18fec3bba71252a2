"""A throwaway PostgreSQL for the test session, and a fresh database per test cloned from a
migrated template (fast: CREATE DATABASE ... TEMPLATE copies files)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg

from server.db.embedded import EmbeddedPostgres
from server.db.migrate import migrate

TEMPLATE = "ft_template"


class Cluster:
    def __init__(self, admin_dsn: str, make_dsn: object) -> None:
        self.admin_dsn = admin_dsn
        self._make_dsn = make_dsn

    def dsn_for(self, database: str) -> str:
        return self._make_dsn(database)  # type: ignore[operator,no-any-return]

    async def create_template(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {TEMPLATE}")
        finally:
            await conn.close()
        conn = await asyncpg.connect(self.dsn_for(TEMPLATE))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    async def new_database(self, template: str = TEMPLATE) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        finally:
            await conn.close()
        return name

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()

    @asynccontextmanager
    async def database(self, template: str = TEMPLATE) -> AsyncIterator[str]:
        name = await self.new_database(template)
        try:
            yield self.dsn_for(name)
        finally:
            await self.drop_database(name)


@contextmanager
def throwaway_cluster() -> Iterator[tuple[Cluster, EmbeddedPostgres | None]]:
    """``TEST_DATABASE_URL`` (a superuser DSN to any database) wins; else start our own cluster."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        base = url.rsplit("/", 1)[0]
        yield Cluster(url, lambda db: f"{base}/{db}"), None
        return
    tmp = tempfile.mkdtemp(prefix="ft-pg-")
    Path(tmp).chmod(0o755)  # the postgres user must reach it when tests run as root
    pg = EmbeddedPostgres(Path(tmp) / "pg")
    pg.start(fast=True)
    try:
        yield Cluster(pg.dsn_for("postgres"), pg.dsn_for), pg
    finally:
        pg.stop("immediate")
