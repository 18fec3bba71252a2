from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.db.embedded import EmbeddedPostgres
from server.demo import DemoInfo, seed_demo
from server.settings import Settings
from tests.pg import Cluster, throwaway_cluster


@pytest.fixture(scope="session")
def pg_server() -> Iterator[tuple[Cluster, EmbeddedPostgres | None]]:
    with throwaway_cluster() as pair:
        yield pair


@pytest.fixture(scope="session")
async def cluster(pg_server: tuple[Cluster, EmbeddedPostgres | None]) -> Cluster:
    c = pg_server[0]
    await c.create_template()
    return c


@pytest.fixture
async def db_dsn(cluster: Cluster) -> AsyncIterator[str]:
    """A freshly migrated, empty database of its own for one test."""
    async with cluster.database() as dsn:
        yield dsn


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(db_dsn)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(secret_key="test-secret-" + "x" * 32, data_dir=tmp_path, seed_demo=False)


@pytest.fixture
async def demo(db_dsn: str) -> DemoInfo:
    c = await asyncpg.connect(db_dsn)
    try:
        return await seed_demo(c)
    finally:
        await c.close()


@pytest.fixture
async def client(db_dsn: str, settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings, dsn=db_dsn)
    async with AsyncTestClient(app=app) as c:
        yield c
