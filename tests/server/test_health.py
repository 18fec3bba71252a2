from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from server.db.migrate import available
from server.errors import interface_handler


async def test_health_reports_database_and_migration(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == "ok"
    assert body["migration_version"] == available()[-1].version


async def test_openapi_is_served(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    assert "/health" in r.json()["paths"]


async def test_unknown_address_gets_a_coded_error(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/no/such/thing")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


def test_a_connection_closed_mid_request_answers_unavailable_not_a_crash() -> None:
    closed = asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed")
    assert interface_handler(None, closed).status_code == 503  # type: ignore[arg-type]
    misuse = asyncpg.InterfaceError("cannot perform operation: another operation is in progress")
    assert interface_handler(None, misuse).status_code == 500  # type: ignore[arg-type]
