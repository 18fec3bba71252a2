from typing import Any

from litestar.testing import AsyncTestClient

from server.db.migrate import available


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
