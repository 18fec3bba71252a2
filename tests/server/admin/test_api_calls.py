"""What the pages' scripts call exists, and answers a manager with data while refusing a sales person.

Browser-free end to end: the scripts are read for their ``FT.api``/``raw`` calls and each call is
matched against the app's own routes (method and path).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from server.admin.pages import STATIC_DIR, available
from server.demo import DemoInfo
from server.settings import Settings
from tests.auth_helpers import bearer, token_for
from tests.server.admin.js_calls import Call, calls, matches

# Floor roles read these by design (handhelds and tills need them); a manager additionally gets costs.
FLOOR_READS = {"/catalog/products", "/tickets", "/auth/me"}
PUBLIC = {"/auth/sign-in", "/auth/refresh", "/auth/sign-out"}


def routes(client: AsyncTestClient[Any]) -> list[tuple[str, set[str], dict[str, Any]]]:
    out = []
    for route in client.app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                out.append((route.path, set(handler.http_methods), dict(handler.opt)))
    return out


def route_for(client: AsyncTestClient[Any], call: Call) -> tuple[str, dict[str, Any]]:
    hits = [(p, opt) for p, methods, opt in routes(client) if call.method in methods and matches(p, call.path)]
    # A literal path beats a parameter (/payments/unresolved over /payments/{payment_id}).
    hits.sort(key=lambda h: h[0].count("{"))
    assert hits, f"{call.script}: {call.method} {call.path} is not served"
    return hits[0]


def served_calls(app: Litestar) -> list[Call]:
    """Every call with a path of the shared script and the offered pages' scripts (a page whose back
    end is not in this server is not offered); the reports page's computed paths read its table."""
    scripts = {"admin.js"} | {f"{p.key}.js" for p in available(app)}
    found = [c for c in calls(STATIC_DIR) if c.script in scripts]
    assert {c.script for c in found if c.path == "{}"} == {"reports.js"}
    return [c for c in found if c.path != "{}"]


def test_the_scripts_are_read(client: AsyncTestClient[Any]) -> None:
    found = {(c.method, c.path) for c in served_calls(client.app)}
    assert ("GET", "/api/admin/dashboard") in found
    assert ("POST", "/staff/{}/deactivate") in found
    assert ("PATCH", "/catalog/products/{}") in found
    assert ("GET", "/catalog/products") in found  # the query string is not part of the path
    assert ("POST", "/auth/sign-in") in found
    assert ("GET", "/api/admin/store") in found
    assert len(found) >= 25


async def test_every_call_is_served(client: AsyncTestClient[Any]) -> None:
    for call in served_calls(client.app):
        path, opt = route_for(client, call)
        if call.path in PUBLIC:
            assert opt.get("public"), path
        else:
            roles = opt.get("roles") or ()
            assert {"manager", "admin"} <= set(roles), (call, opt)


async def test_a_manager_gets_data_and_a_sales_person_is_refused(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, demo: DemoInfo, settings: Settings
) -> None:
    manager = bearer(await token_for(conn, "M001", settings.secret_key))
    sales = bearer(await token_for(conn, "S001", settings.secret_key))
    reads = sorted({c.path for c in served_calls(client.app) if c.method == "GET" and "{}" not in c.path})
    assert len(reads) >= 8
    for path in reads:
        r = await client.get(path, headers=manager)
        assert r.status_code == 200, (path, r.text)
        assert r.json() is not None, path  # lists may be empty in a fresh store
        refused = await client.get(path, headers=sales)
        if path in FLOOR_READS:
            assert refused.status_code == 200, path
        else:
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["code"] == "forbidden"
        assert (await client.get(path)).status_code == 401, path
    products = (await client.get("/catalog/products", headers=sales)).json()["items"]
    assert products
    assert all(p["cost"] is None for p in products)
    products = (await client.get("/catalog/products", headers=manager)).json()["items"]
    assert all(p["cost"] is not None for p in products)


async def test_changes_from_the_pages_are_refused_to_a_sales_person(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, demo: DemoInfo, settings: Settings
) -> None:
    sales = bearer(await token_for(conn, "S001", settings.secret_key))
    some_id = "0190d1a0-0000-7000-8000-000000000000"
    for call in served_calls(client.app):
        if call.method == "GET" or call.path in PUBLIC:
            continue
        url = call.path.replace("{}", some_id)
        r = await client.request(call.method, url, headers=sales, json={})
        assert r.status_code == 403, (call, r.text)
