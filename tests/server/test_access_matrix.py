"""Every HTTP endpoint × every caller: anonymous, each staff role, each device kind, a revoked device.

The expected answer comes from the route's declared rule (``opt``), so a new endpoint joins the matrix
by being registered: a route with no rule is closed, a role outside the rule gets 403 ``forbidden``,
no credentials get 401, a revoked device gets 401 ``device_revoked``, and no combination is ever a
server error. A second table sends every allowed caller to another store's objects: not found.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from protocol.ids import new_id
from server.demo import DemoInfo
from server.settings import Settings
from tests.auth_helpers import activate_device, bearer, token_for
from tests.stores import second_store

STAFF_ROLES = {"sales": "S001", "cashier": "C001", "supervisor": "V001", "manager": "M001", "admin": "A001"}
SKIP_PREFIXES = ("/schema",)
# The role may call the endpoint, and the body still needs a supervisor's staff code and PIN: such a
# 403 is the endpoint's own rule, not the role check.
APPROVAL_CODES = {"exception_approval_required", "supervisor_approval_required"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # Litestar path template, e.g. /tickets/{ticket_id:uuid}
    opt: dict[str, Any]

    def url(self, ids: dict[str, str] | None = None) -> str:
        def fill(match: re.Match[str]) -> str:
            name, kind = match.group(1), match.group(2)
            if ids and name in ids:
                return ids[name]
            return str(uuid.uuid4()) if kind == "uuid" else "x"

        return re.sub(r"\{(\w+):(\w+)\}", fill, self.path)


def endpoints(app: Litestar) -> list[Endpoint]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(SKIP_PREFIXES):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                found.append(Endpoint(method, route.path, dict(handler.opt)))
    return found


@dataclass(frozen=True)
class Who:
    name: str
    headers: dict[str, str]
    role: str | None = None
    device_kind: str | None = None
    revoked: bool = False


async def callers(conn: asyncpg.Connection, settings: Settings, store_id: uuid.UUID) -> list[Who]:
    """Callers of the demo store ``store_id``."""
    who = [Who("anonymous", {})]
    for role, code in STAFF_ROLES.items():
        who.append(Who(role, bearer(await token_for(conn, code, settings.secret_key)), role=role))
    labels = await conn.fetch(
        "SELECT label, kind FROM device WHERE state = 'pending' AND store_id = $1 ORDER BY kind, label DESC", store_id
    )
    by_kind = {row["kind"]: row["label"] for row in labels}
    for kind, label in sorted(by_kind.items()):
        _, token = await activate_device(conn, label)
        who.append(Who(kind, {"Authorization": f"Device {token}"}, device_kind=kind))
    # A revoked handheld: enrolled, then revoked by a manager.
    revoked_id = new_id()
    await conn.execute(
        "INSERT INTO device (id, store_id, kind, label) VALUES ($1, $2, 'handheld', 'revoked one')",
        revoked_id,
        store_id,
    )
    _, token = await activate_device(conn, "revoked one")
    await conn.execute("UPDATE device SET state = 'revoked', revoked_at = now() WHERE id = $1", revoked_id)
    who.append(Who("revoked handheld", {"Authorization": f"Device {token}"}, device_kind="handheld", revoked=True))
    return who


def expected(endpoint: Endpoint, who: Who) -> set[int] | None:
    """The statuses this caller may get, or ``None`` for "allowed" (anything but 401, 403 and 5xx)."""
    opt = endpoint.opt
    if opt.get("public"):
        return None
    roles, kinds = opt.get("roles"), opt.get("device")
    if who.device_kind is not None:
        if kinds is None:
            return {401}  # a device token is not a staff sign-in
        if who.revoked:
            return {401}
        return None if who.device_kind in kinds else {403}
    if who.role is None:
        return {401}
    if roles is None:
        return {401} if kinds is not None else {403}
    return None if who.role in roles else {403}


def error_code(response: Any) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    body = response.json()
    return body.get("code") if isinstance(body, dict) else None


async def call(client: AsyncTestClient[Any], endpoint: Endpoint, url: str, headers: dict[str, str]) -> Any:
    body = {} if endpoint.method in {"POST", "PUT", "PATCH"} else None
    return await client.request(endpoint.method, url, json=body, headers=headers)


async def test_every_endpoint_answers_every_caller_as_its_rule_says(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    app: Litestar = client.app
    table = endpoints(app)
    assert len(table) > 40, "the route table looks empty"
    who_list = await callers(conn, settings, demo.store_id)
    wrong = []
    for endpoint in table:
        assert endpoint.opt.get("public") or endpoint.opt.get("roles") or endpoint.opt.get("device"), (
            f"{endpoint.method} {endpoint.path} declares no access rule"
        )
        for who in who_list:
            r = await call(client, endpoint, endpoint.url(), who.headers)
            want = expected(endpoint, who)
            code = error_code(r)
            ok = r.status_code < 500 and (
                (r.status_code not in (401, 403) or (r.status_code == 403 and code in APPROVAL_CODES))
                if want is None
                else r.status_code in want and code is not None
            )
            if ok and who.revoked and want == {401}:
                ok = code == "device_revoked" or endpoint.opt.get("device") is None
            if not ok:
                wrong.append(f"{endpoint.method} {endpoint.path} as {who.name}: {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)


async def _member_of(conn: asyncpg.Connection, store_id: uuid.UUID) -> uuid.UUID:
    member = new_id()
    await conn.execute(
        "INSERT INTO member (id, home_store_id, name, phone) VALUES ($1, $2, 'Other store member', '13999999999')",
        member,
        store_id,
    )
    await conn.execute("INSERT INTO member_store (member_id, store_id) VALUES ($1, $2)", member, store_id)
    return member


async def _exception_of(conn: asyncpg.Connection, store_id: uuid.UUID) -> uuid.UUID:
    exception_id = new_id()
    await conn.execute(
        "INSERT INTO store_exception (id, store_id, source_id, kind, checkout_id, refusal_code)"
        " VALUES ($1, $2, $3, 'paid_elsewhere', $3, 'ticket_already_in_checkout')",
        exception_id,
        store_id,
        new_id(),
    )
    return exception_id


async def test_another_stores_objects_answer_not_found_to_every_allowed_reader(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    other = await second_store(conn)
    ids = {
        "staff_id": str(other.sales_id),
        "device_id": str(other.device_id),
        "product_id": str(other.product_id),
        "member_id": str(await _member_of(conn, other.store_id)),
        "exception_id": str(await _exception_of(conn, other.store_id)),
    }
    readers = [
        w for w in await callers(conn, settings, demo.store_id) if w.role not in (None, "admin") or w.device_kind
    ]
    readers = [w for w in readers if not w.revoked]
    wrong = []
    checked = 0
    for endpoint in endpoints(client.app):
        names = set(re.findall(r"\{(\w+):uuid\}", endpoint.path))
        if endpoint.method != "GET" or not names or not names <= ids.keys():
            continue
        for who in readers:
            if expected(endpoint, who) is not None:
                continue
            r = await client.get(endpoint.url(ids), headers=who.headers)
            checked += 1
            if r.status_code != 404 or error_code(r) != "not_found":
                wrong.append(f"GET {endpoint.path} as {who.name}: {r.status_code} {r.text[:120]}")
    assert checked >= 5
    assert not wrong, "\n".join(wrong)


async def test_a_till_reads_its_own_stores_settings_and_allowances_with_its_device_token(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    from server.checkout.config import CheckoutConfig

    _, till = await activate_device(conn, "Till 1")
    _, handheld = await activate_device(conn, "Handheld Apple 1")
    r = await client.get("/api/device/till-settings", headers={"Authorization": f"Device {till}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["store_id"] == str(demo.store_id)
    assert (body["currency"], body["points_per_yuan"], body["refund_approval_limit"]) == ("CNY", 100, 50_000)
    client.app.state.checkout_config = CheckoutConfig(points_per_yuan=50, refund_approval_limit=1_000)
    r = await client.get("/api/device/till-settings", headers={"Authorization": f"Device {till}"})
    assert (r.json()["points_per_yuan"], r.json()["refund_approval_limit"]) == (50, 1_000)
    r = await client.get("/api/device/till-allowances", headers={"Authorization": f"Device {till}"})
    assert r.status_code == 200
    assert r.json() == {"allowances": []}
    for path in ("/api/device/till-settings", "/api/device/till-allowances"):
        r = await client.get(path, headers={"Authorization": f"Device {handheld}"})
        assert r.status_code == 403, "a handheld has no till rules"
