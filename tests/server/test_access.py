"""Every identity and catalog endpoint checks the role: each role allowed and refused (403 forbidden),
no token at all is 401, and device-only routes refuse staff-less calls without a device token."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from server.demo import DemoInfo
from server.settings import Settings
from tests.auth_helpers import activate_device, bearer, token_for

ROLE_CODES = {"sales": "S001", "cashier": "C001", "supervisor": "V001", "manager": "M001", "admin": "A001"}
EVERYONE = set(ROLE_CODES)
MANAGERS = {"manager", "admin"}

# (method, path, roles allowed); {product}, {device}, {staff} are ids of the caller's own store.
MATRIX = [
    ("GET", "/auth/me", EVERYONE),
    ("GET", "/catalog/products", EVERYONE),
    ("GET", "/catalog/products/{product}", EVERYONE),
    ("POST", "/catalog/products", MANAGERS),
    ("PATCH", "/catalog/products/{product}", MANAGERS),
    ("GET", "/devices", MANAGERS),
    ("POST", "/devices", MANAGERS),
    ("GET", "/devices/{device}", MANAGERS),
    ("POST", "/devices/{device}/enrollment-code", MANAGERS),
    ("POST", "/devices/{device}/revoke", MANAGERS),
    ("GET", "/devices/directory", EVERYONE),
    ("GET", "/staff", MANAGERS),
    ("POST", "/staff", MANAGERS),
    ("GET", "/staff/{staff}", MANAGERS),
    ("PATCH", "/staff/{staff}", MANAGERS),
    ("PUT", "/staff/{staff}/credentials", MANAGERS),
    ("POST", "/staff/{staff}/unlock", MANAGERS),
    ("POST", "/staff/{staff}/deactivate", MANAGERS),
]


async def ids(conn: asyncpg.Connection) -> dict[str, str]:
    return {
        "product": str(await conn.fetchval("SELECT id FROM product WHERE sku = 'APL-IP16'")),
        "device": str(await conn.fetchval("SELECT id FROM device WHERE label = 'Till 1'")),
        "staff": str(await conn.fetchval("SELECT id FROM staff WHERE code = 'S002'")),
    }


@pytest.mark.parametrize("role", sorted(ROLE_CODES))
async def test_each_role_is_allowed_or_refused_with_forbidden(
    role: str, client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = bearer(await token_for(conn, ROLE_CODES[role], settings.secret_key))
    known = await ids(conn)
    # Refused calls first, so allowed ones (which may change state) cannot mask them.
    for method, path, allowed in sorted(MATRIX, key=lambda m: role in m[2]):
        # An empty JSON object: allowed roles may then get 400 for the body, never 403.
        r = await client.request(method, path.format(**known), json={} if method != "GET" else None, headers=headers)
        if role in allowed:
            assert r.status_code not in (401, 403), (role, method, path, r.text)
        else:
            assert r.status_code == 403, (role, method, path, r.text)
            assert r.json()["code"] == "forbidden"
            assert r.json()["details"]["role"] == role
    assert await conn.fetchval("SELECT count(*) FROM staff WHERE active = false") == (1 if role in MANAGERS else 0)


async def test_no_token_is_unauthenticated_everywhere_but_the_public_routes(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    known = await ids(conn)
    for method, path, _ in MATRIX:
        r = await client.request(method, path.format(**known))
        assert r.status_code == 401, (method, path)
        assert r.json()["code"] == "unauthenticated"


async def test_a_device_token_opens_device_routes_only(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    _, token = await activate_device(conn, "Handheld Apple 1")
    headers = {"Authorization": f"Device {token}"}
    known = await ids(conn)
    for method, path in (
        ("GET", "/catalog/products"),
        ("GET", "/devices/directory"),
        ("GET", "/devices/{device}/public-key"),
    ):
        assert (await client.request(method, path.format(**known), headers=headers)).status_code == 200, path
    for method, path in (("GET", "/devices"), ("POST", "/catalog/products"), ("GET", "/staff"), ("GET", "/auth/me")):
        r = await client.request(method, path, headers=headers)
        assert r.status_code == 401, path
    r = await client.get("/catalog/products", headers={"Authorization": "Device not-a-token"})
    assert r.status_code == 401


async def test_openapi_shows_request_and_response_schemas(client: AsyncTestClient[Any]) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    components = schema["components"]["schemas"]
    for name in (
        "SignIn",
        "Session",
        "StaffCreate",
        "StaffView",
        "DeviceCreate",
        "EnrollRequest",
        "Enrolled",
        "ProductPage",
    ):
        assert name in components, name
    sign_in = schema["paths"]["/auth/sign-in"]["post"]
    assert sign_in["operationId"] == "signIn"
    assert "requestBody" in sign_in
    assert any(p["name"] == "x-device-token" for p in sign_in["parameters"])
