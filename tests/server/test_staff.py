"""Staff administration by managers: create, change, deactivate, credentials, unlock."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from server.demo import DemoInfo
from server.settings import Settings
from tests.auth_helpers import bearer, token_for
from tests.stores import second_store


async def as_staff(conn: asyncpg.Connection, settings: Settings, code: str = "M001") -> dict[str, str]:
    return bearer(await token_for(conn, code, settings.secret_key))


async def test_manager_creates_a_sales_person_who_can_then_sign_in(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await as_staff(conn, settings)
    counter = await conn.fetchval("SELECT id FROM counter WHERE code = 'C-APL'")
    r = await client.post(
        "/staff",
        json={"code": "S010", "name": "赵敏 Zhao Min", "role": "sales", "pin": "246810", "counter_id": str(counter)},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["has_pin"] is True
    assert created["has_password"] is False
    assert "pin" not in created
    stored = await conn.fetchval("SELECT pin_hash FROM staff WHERE code = 'S010'")
    assert stored.startswith("$argon2id$")
    assert (await client.post("/auth/sign-in", json={"staff_code": "S010", "pin": "246810"})).status_code == 200
    listed = [s["code"] for s in (await client.get("/staff", headers=headers)).json()]
    assert "S010" in listed
    audit = await conn.fetchrow("SELECT action, details FROM audit_log WHERE object_id = $1", created["id"])
    assert audit["action"] == "staff.created"
    assert "246810" not in audit["details"]


async def test_role_needs_its_kind_of_secret_and_codes_are_unique(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await as_staff(conn, settings)
    r = await client.post(
        "/staff", json={"code": "M010", "name": "x", "role": "manager", "pin": "1234"}, headers=headers
    )
    assert r.status_code == 400
    assert r.json()["details"]["field"] == "password"
    r = await client.post("/staff", json={"code": "S001", "name": "x", "role": "sales", "pin": "1234"}, headers=headers)
    assert r.status_code == 409
    assert r.json()["code"] == "staff_code_taken"
    r = await client.post("/staff", json={"code": "S011", "name": "x", "role": "sales", "pin": "12"}, headers=headers)
    assert r.status_code == 400
    assert r.json()["details"]["field"] == "pin"
    assert await conn.fetchval("SELECT count(*) FROM staff WHERE code IN ('M010', 'S011')") == 0


async def test_only_an_admin_makes_an_admin(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    body = {"code": "A010", "name": "x", "role": "admin", "password": "long-enough"}
    r = await client.post("/staff", json=body, headers=await as_staff(conn, settings))
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    admin_id = await conn.fetchval("SELECT id FROM staff WHERE code = 'A001'")
    r = await client.patch(f"/staff/{admin_id}", json={"name": "renamed"}, headers=await as_staff(conn, settings))
    assert r.status_code == 403
    r = await client.post("/staff", json=body, headers=await as_staff(conn, settings, "A001"))
    assert r.status_code == 201


async def test_deactivated_staff_lose_their_sessions_and_cannot_sign_in(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    session = (await client.post("/auth/sign-in", json={"staff_code": "S002", "pin": "2222"})).json()
    staff_id = session["staff"]["staff_id"]
    r = await client.post(f"/staff/{staff_id}/deactivate", headers=await as_staff(conn, settings))
    assert r.status_code == 200
    assert r.json()["active"] is False
    assert (await client.get("/auth/me", headers=bearer(session["access_token"]))).status_code == 401
    refresh = await client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refresh.status_code == 401
    again = await client.post("/auth/sign-in", json={"staff_code": "S002", "pin": "2222"})
    assert again.json()["code"] == "bad_credentials"
    # Reactivation brings them back.
    r = await client.patch(f"/staff/{staff_id}", json={"active": True}, headers=await as_staff(conn, settings))
    assert r.json()["active"] is True
    assert (await client.post("/auth/sign-in", json={"staff_code": "S002", "pin": "2222"})).status_code == 200


async def test_a_manager_cannot_deactivate_themselves(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    me = await conn.fetchval("SELECT id FROM staff WHERE code = 'M001'")
    r = await client.post(f"/staff/{me}/deactivate", headers=await as_staff(conn, settings))
    assert r.status_code == 409
    assert await conn.fetchval("SELECT active FROM staff WHERE id = $1", me)


async def test_new_pin_lifts_a_lockout_and_unlock_does_too(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await as_staff(conn, settings)
    staff_id = await conn.fetchval("SELECT id FROM staff WHERE code = 'C001'")
    for _ in range(5):
        await client.post("/auth/sign-in", json={"staff_code": "C001", "pin": "0000"})
    listed = {s["code"]: s for s in (await client.get("/staff", headers=headers)).json()}
    assert listed["C001"]["locked_until"] is not None
    r = await client.put(f"/staff/{staff_id}/credentials", json={"pin": "864200"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["locked_until"] is None
    assert (await client.post("/auth/sign-in", json={"staff_code": "C001", "pin": "3333"})).status_code == 401
    assert (await client.post("/auth/sign-in", json={"staff_code": "C001", "pin": "864200"})).status_code == 200
    for _ in range(5):
        await client.post("/auth/sign-in", json={"staff_code": "C001", "pin": "0000"})
    r = await client.post(f"/staff/{staff_id}/unlock", headers=headers)
    assert r.json()["locked_until"] is None
    assert (await client.post("/auth/sign-in", json={"staff_code": "C001", "pin": "864200"})).status_code == 200
    actions = [
        r["action"]
        for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE object_type IN ('product', 'device', 'staff') ORDER BY id"
        )
    ]
    assert actions == ["staff.locked_out", "staff.credentials_changed", "staff.locked_out", "staff.unlocked"]


async def test_another_stores_staff_answer_not_found(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    other = await second_store(conn)
    headers = await as_staff(conn, settings)
    for method, path, body in (
        ("GET", f"/staff/{other.sales_id}", None),
        ("PATCH", f"/staff/{other.sales_id}", {"name": "hijacked"}),
        ("POST", f"/staff/{other.sales_id}/deactivate", None),
        ("PUT", f"/staff/{other.sales_id}/credentials", {"pin": "1234"}),
        ("POST", f"/staff/{other.sales_id}/unlock", None),
    ):
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["code"] == "not_found"
    row = await conn.fetchrow("SELECT name, active FROM staff WHERE id = $1", other.sales_id)
    assert (row["name"], row["active"]) == ("Other sales", True)
    assert str(other.sales_id) not in {s["id"] for s in (await client.get("/staff", headers=headers)).json()}
    r = await client.post(
        "/staff",
        json={"code": "S012", "name": "x", "role": "sales", "pin": "1234", "counter_id": str(other.counter_id)},
        headers=headers,
    )
    assert r.status_code == 404
    assert (
        await conn.fetchval("SELECT count(*) FROM audit_log WHERE object_type IN ('product', 'device', 'staff')") == 0
    )


async def test_wrong_types_name_the_field_and_write_nothing(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await as_staff(conn, settings)
    before = await conn.fetchval("SELECT count(*) FROM staff")
    for body, field in (
        ({"code": "S013", "name": "x", "role": "boss", "pin": "1234"}, "role"),
        ({"code": "S013", "name": ["x"], "role": "sales", "pin": "1234"}, "name"),
        ({"code": "S013", "name": "x", "role": "sales", "pin": 1234}, "pin"),
        ({"code": "S 13", "name": "x", "role": "sales", "pin": "1234"}, "code"),
        ({"name": "x", "role": "sales", "pin": "1234"}, "code"),
    ):
        r = await client.post("/staff", json=body, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["details"]["field"] == field, r.text
    staff_id = await conn.fetchval("SELECT id FROM staff WHERE code = 'S001'")
    r = await client.patch(f"/staff/{staff_id}", json={"active": "no"}, headers=headers)
    assert r.json()["details"]["field"] == "active"
    assert await conn.fetchval("SELECT count(*) FROM staff") == before
    assert await conn.fetchval("SELECT active FROM staff WHERE id = $1", staff_id)
