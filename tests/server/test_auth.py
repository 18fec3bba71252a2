"""Sign-in, lockout, refresh rotation, sign-out and /auth/me through the real app and database."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from server.demo import DemoInfo
from tests.auth_helpers import activate_device, bearer


async def sign_in(client: AsyncTestClient[Any], code: str, headers: dict[str, str] | None = None, **secret: str) -> Any:
    return await client.post("/auth/sign-in", json={"staff_code": code, **secret}, headers=headers or {})


async def test_sales_signs_in_with_pin_and_sees_themselves(client: AsyncTestClient[Any], demo: DemoInfo) -> None:
    r = await sign_in(client, "S001", pin="1111")
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["staff"]["role"] == "sales"
    assert session["staff"]["store_code"] == "SH01"
    me = await client.get("/auth/me", headers=bearer(session["access_token"]))
    assert me.status_code == 200
    assert me.json()["code"] == "S001"
    assert me.json()["device_id"] is None


async def test_manager_needs_password_off_device_but_pin_works_on_an_enrolled_device(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    assert (await sign_in(client, "M001", pin="5555")).json()["code"] == "bad_credentials"
    assert (await sign_in(client, "M001", password="manager-demo")).status_code == 200
    device_id, token = await activate_device(conn, "Till 1")
    r = await sign_in(client, "M001", {"X-Device-Token": token}, pin="5555")
    assert r.status_code == 200, r.text
    me = await client.get("/auth/me", headers=bearer(r.json()["access_token"]))
    assert me.json()["device_id"] == str(device_id)


async def test_wrong_credentials_never_say_which_part_was_wrong(client: AsyncTestClient[Any], demo: DemoInfo) -> None:
    unknown = await sign_in(client, "NOBODY", pin="1111")
    wrong_pin = await sign_in(client, "S001", pin="9999")
    assert unknown.status_code == wrong_pin.status_code == 401
    assert unknown.json() == wrong_pin.json()
    assert unknown.json()["code"] == "bad_credentials"


async def test_pin_and_password_together_or_neither_is_refused_naming_the_field(
    client: AsyncTestClient[Any], demo: DemoInfo
) -> None:
    both = await sign_in(client, "M001", pin="5555", password="manager-demo")
    assert both.status_code == 400
    assert both.json()["details"]["field"] == "password"
    neither = await sign_in(client, "M001")
    assert neither.status_code == 400
    assert neither.json()["details"]["field"] == "pin"


async def test_lockout_after_repeated_failures_then_unlock_when_time_passes(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    for _ in range(4):
        assert (await sign_in(client, "S002", pin="0000")).json()["code"] == "bad_credentials"
    fifth = await sign_in(client, "S002", pin="0000")
    assert fifth.status_code == 423
    assert fifth.json()["code"] == "locked_out"
    assert "locked_until" in fifth.json()["details"]
    # Even the right PIN is refused while locked.
    right = await sign_in(client, "S002", pin="2222")
    assert right.json()["code"] == "locked_out"
    audit = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'staff.locked_out'")
    assert audit == 1
    # Time passes: the lock ends and the right PIN works again.
    await conn.execute("UPDATE staff SET locked_until = now() - interval '1 second' WHERE code = 'S002'")
    assert (await sign_in(client, "S002", pin="2222")).status_code == 200


async def test_parallel_guessing_gets_no_extra_attempts(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    results = await asyncio.gather(*(sign_in(client, "S001", pin=f"{n:04d}") for n in range(2000, 2012)))
    codes = [r.json()["code"] for r in results]
    assert codes.count("bad_credentials") == 4
    assert codes.count("locked_out") == 8
    locked = await conn.fetchval("SELECT locked_until > now() FROM staff WHERE code = 'S001'")
    assert locked


async def test_refresh_rotates_and_a_reused_token_ends_the_session(
    client: AsyncTestClient[Any], demo: DemoInfo
) -> None:
    first = (await sign_in(client, "C001", pin="3333")).json()
    r = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/auth/me", headers=bearer(second["access_token"]))).status_code == 200
    # The first token again: refused, and the whole family is ended, the newer token included.
    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["code"] == "refresh_token_reused"
    later = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert later.status_code == 401


async def test_concurrent_refreshes_with_one_token_yield_one_session(
    client: AsyncTestClient[Any], demo: DemoInfo
) -> None:
    token = (await sign_in(client, "C001", pin="3333")).json()["refresh_token"]
    results = await asyncio.gather(*(client.post("/auth/refresh", json={"refresh_token": token}) for _ in range(5)))
    assert sorted(r.status_code for r in results) == [200, 401, 401, 401, 401]


async def test_sign_out_ends_the_refresh_token(client: AsyncTestClient[Any], demo: DemoInfo) -> None:
    session = (await sign_in(client, "S001", pin="1111")).json()
    r = await client.post("/auth/sign-out", json={"refresh_token": session["refresh_token"]})
    assert r.status_code == 204
    again = await client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert again.status_code == 401
    assert again.json()["code"] == "unauthenticated"


async def test_a_session_bound_to_a_revoked_device_is_refused(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    _, token = await activate_device(conn, "Handheld Apple 1")
    session = (await sign_in(client, "S001", {"X-Device-Token": token}, pin="1111")).json()
    await conn.execute("UPDATE device SET state = 'revoked', revoked_at = now() WHERE label = 'Handheld Apple 1'")
    me = await client.get("/auth/me", headers=bearer(session["access_token"]))
    assert me.status_code == 401
    assert me.json()["code"] == "device_revoked"
    r = await client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert r.json()["code"] == "device_revoked"
    r = await sign_in(client, "S001", {"X-Device-Token": token}, pin="1111")
    assert r.json()["code"] == "device_revoked"


async def test_a_device_of_another_store_cannot_host_a_sign_in(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    from tests.stores import second_store

    other = await second_store(conn)
    await conn.execute("UPDATE device SET label = 'Other handheld X' WHERE id = $1", other.device_id)
    _, token = await activate_device(conn, "Other handheld X")
    r = await sign_in(client, "S001", {"X-Device-Token": token}, pin="1111")
    assert r.status_code == 403
    assert r.json()["code"] == "device_store_mismatch"
