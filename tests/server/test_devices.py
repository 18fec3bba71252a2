"""Device creation, one-time enrollment codes, enrollment with an Ed25519 key, revocation, keys."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient
from nacl.signing import SigningKey

from server.auth.tokens import digest
from server.demo import DemoInfo
from server.settings import Settings
from tests.auth_helpers import bearer, token_for
from tests.stores import second_store


def new_key() -> tuple[SigningKey, str]:
    key = SigningKey.generate()
    return key, base64.b64encode(key.verify_key.encode()).decode()


def device_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Device {token}"}


async def manager(conn: asyncpg.Connection, settings: Settings) -> dict[str, str]:
    return bearer(await token_for(conn, "M001", settings.secret_key))


async def create_and_enroll(
    client: AsyncTestClient[Any], headers: dict[str, str], kind: str = "handheld", label: str = "New handheld"
) -> tuple[dict[str, Any], SigningKey]:
    created = await client.post("/devices", json={"kind": kind, "label": label}, headers=headers)
    assert created.status_code == 201, created.text
    key, public = new_key()
    r = await client.post("/devices/enroll", json={"code": created.json()["enrollment"]["code"], "public_key": public})
    assert r.status_code == 200, r.text
    return r.json(), key


async def test_manager_creates_a_device_and_it_enrolls_with_the_one_time_code(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await manager(conn, settings)
    counter = await conn.fetchval("SELECT id FROM counter WHERE code = 'C-SNY'")
    created = await client.post(
        "/devices", json={"kind": "handheld", "label": "Sony handheld", "counter_id": str(counter)}, headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["device"]["state"] == "pending"
    code = body["enrollment"]["code"]
    # Only the hash is kept.
    assert await conn.fetchval(
        "SELECT device_id FROM enrollment_code WHERE code_hash = $1", digest(code.replace("-", ""))
    )
    key, public = new_key()
    r = await client.post("/devices/enroll", json={"code": code, "public_key": public})
    assert r.status_code == 200, r.text
    enrolled = r.json()
    assert enrolled["device_id"] == body["device"]["id"]
    assert enrolled["store_code"] == "SH01"
    assert enrolled["counter_id"] == str(counter)
    assert enrolled["kind"] == "handheld"
    token = enrolled["device_token"]
    assert (
        str(await conn.fetchval("SELECT id FROM device WHERE token_hash = $1", digest(token))) == enrolled["device_id"]
    )
    # The device token works and the manager sees the device as active, seen just now.
    assert (await client.get("/devices/directory", headers=device_auth(token))).status_code == 200
    listed = {d["id"]: d for d in (await client.get("/devices", headers=headers)).json()}
    mine = listed[enrolled["device_id"]]
    assert mine["state"] == "active"
    assert mine["last_seen_at"] is not None
    assert base64.b64decode(mine["public_key"]) == bytes(key.verify_key)
    actions = [
        r["action"]
        for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE object_type IN ('product', 'device', 'staff') ORDER BY id"
        )
    ]
    assert actions == ["device.created", "device.enrollment_code_created", "device.enrolled"]


async def test_demo_enrollment_codes_enroll(client: AsyncTestClient[Any], demo: DemoInfo) -> None:
    label, kind, code = demo.enrollment_codes[0]
    _, public = new_key()
    r = await client.post("/devices/enroll", json={"code": code, "public_key": public})
    assert r.status_code == 200, r.text
    assert (r.json()["label"], r.json()["kind"]) == (label, kind)


async def test_a_code_works_once_even_when_two_devices_race_for_it(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    created = await client.post(
        "/devices", json={"kind": "till", "label": "Till 9"}, headers=await manager(conn, settings)
    )
    code = created.json()["enrollment"]["code"]
    results = await asyncio.gather(
        *(client.post("/devices/enroll", json={"code": code, "public_key": new_key()[1]}) for _ in range(4))
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"enrollment_code_used"}
    again = await client.post("/devices/enroll", json={"code": code, "public_key": new_key()[1]})
    assert again.json()["code"] == "enrollment_code_used"


async def test_expired_and_unknown_codes_are_refused(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    created = await client.post(
        "/devices", json={"kind": "till", "label": "Till 8"}, headers=await manager(conn, settings)
    )
    code = created.json()["enrollment"]["code"]
    await conn.execute("UPDATE enrollment_code SET expires_at = now() - interval '1 minute'")
    r = await client.post("/devices/enroll", json={"code": code, "public_key": new_key()[1]})
    assert r.status_code == 400
    assert r.json()["code"] == "enrollment_code_expired"
    r = await client.post("/devices/enroll", json={"code": "0000-0000-0000", "public_key": new_key()[1]})
    assert r.json()["code"] == "enrollment_code_invalid"
    assert await conn.fetchval("SELECT count(*) FROM device WHERE state = 'active'") == 0


async def test_a_new_code_replaces_the_old_one_and_active_devices_get_none(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await manager(conn, settings)
    created = (await client.post("/devices", json={"kind": "till", "label": "Till 7"}, headers=headers)).json()
    device_id = created["device"]["id"]
    fresh = await client.post(f"/devices/{device_id}/enrollment-code", headers=headers)
    assert fresh.status_code == 201
    old = await client.post("/devices/enroll", json={"code": created["enrollment"]["code"], "public_key": new_key()[1]})
    assert old.json()["code"] == "enrollment_code_invalid"
    r = await client.post("/devices/enroll", json={"code": fresh.json()["code"], "public_key": new_key()[1]})
    assert r.status_code == 200
    again = await client.post(f"/devices/{device_id}/enrollment-code", headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "device_not_pending"


async def test_a_bad_public_key_is_refused_naming_the_field_and_nothing_changes(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    code = demo.enrollment_codes[0][2]
    for bad in (base64.b64encode(b"x" * 31).decode(), "not base64!!", base64.b64encode(b"x" * 33).decode()):
        r = await client.post("/devices/enroll", json={"code": code, "public_key": bad})
        assert r.status_code == 400
        assert r.json()["details"]["field"] == "public_key"
    r = await client.post("/devices/enroll", json={"code": 12345678, "public_key": new_key()[1]})
    assert r.status_code == 400
    assert r.json()["details"]["field"] == "code"
    assert await conn.fetchval("SELECT count(*) FROM enrollment_code WHERE used_at IS NOT NULL") == 0
    assert await conn.fetchval("SELECT count(*) FROM device WHERE state <> 'pending'") == 0


async def test_a_revoked_device_is_refused_on_its_next_request(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await manager(conn, settings)
    enrolled, _ = await create_and_enroll(client, headers)
    token = enrolled["device_token"]
    assert (await client.get("/devices/directory", headers=device_auth(token))).status_code == 200
    r = await client.post(f"/devices/{enrolled['device_id']}/revoke", headers=headers)
    assert r.status_code == 200
    assert r.json()["state"] == "revoked"
    refused = await client.get("/devices/directory", headers=device_auth(token))
    assert refused.status_code == 401
    assert refused.json()["code"] == "device_revoked"
    audit = await conn.fetchrow("SELECT staff_id, object_id FROM audit_log WHERE action = 'device.revoked'")
    assert audit["object_id"] == enrolled["device_id"]
    assert audit["staff_id"] == await conn.fetchval("SELECT id FROM staff WHERE code = 'M001'")


async def test_the_directory_and_public_keys_let_devices_check_each_others_signatures(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await manager(conn, settings)
    handheld, key = await create_and_enroll(client, headers, "handheld", "H-1")
    till, _ = await create_and_enroll(client, headers, "till", "T-1")
    directory = (await client.get("/devices/directory", headers=device_auth(till["device_token"]))).json()
    keys = {d["device_id"]: d["public_key"] for d in directory["devices"]}
    assert set(keys) == {handheld["device_id"], till["device_id"]}  # pending demo devices are not listed
    signed = key.sign(b"ticket bytes")
    from nacl.signing import VerifyKey

    VerifyKey(base64.b64decode(keys[handheld["device_id"]])).verify(signed)
    one = await client.get(f"/devices/{handheld['device_id']}/public-key", headers=device_auth(till["device_token"]))
    assert one.status_code == 200
    assert one.json()["public_key"] == keys[handheld["device_id"]]


async def test_another_stores_devices_answer_not_found(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    other = await second_store(conn)
    headers = await manager(conn, settings)
    for method, path in (
        ("GET", f"/devices/{other.device_id}"),
        ("POST", f"/devices/{other.device_id}/revoke"),
        ("POST", f"/devices/{other.device_id}/enrollment-code"),
    ):
        r = await client.request(method, path, headers=headers)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["code"] == "not_found"
    assert await conn.fetchval("SELECT state FROM device WHERE id = $1", other.device_id) == "pending"
    listed = {d["id"] for d in (await client.get("/devices", headers=headers)).json()}
    assert str(other.device_id) not in listed
    enrolled, _ = await create_and_enroll(client, headers)
    r = await client.get(f"/devices/{other.device_id}/public-key", headers=device_auth(enrolled["device_token"]))
    assert r.status_code == 404
    r = await client.post(
        "/devices", json={"kind": "handheld", "label": "x", "counter_id": str(other.counter_id)}, headers=headers
    )
    assert r.status_code == 404
    assert r.json()["details"]["object"] == "counter"


async def test_wrong_types_are_refused_naming_the_field_and_nothing_is_written(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await manager(conn, settings)
    before = await conn.fetchval("SELECT count(*) FROM device")
    for body, field in (
        ({"kind": "phone", "label": "x"}, "kind"),
        ({"kind": "till", "label": 5}, "label"),
        ({"kind": "till", "label": "x", "counter_id": "not-a-uuid"}, "counter_id"),
    ):
        r = await client.post("/devices", json=body, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["details"]["field"] == field
    r = await client.post("/devices", content=b"{not json", headers=headers | {"content-type": "application/json"})
    assert r.status_code == 400
    assert await conn.fetchval("SELECT count(*) FROM device") == before
    assert (
        await conn.fetchval("SELECT count(*) FROM audit_log WHERE object_type IN ('product', 'device', 'staff')") == 0
    )


async def test_enrollment_answers_the_counter_code_and_a_short_device_code_for_ticket_numbers(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await manager(conn, settings)
    by_label = {label: code for label, _kind, code in demo.enrollment_codes}
    answers = {}
    for label in ("Handheld Apple 1", "Handheld Huawei 1", "Till 1"):
        _, public = new_key()
        r = await client.post("/devices/enroll", json={"code": by_label[label], "public_key": public})
        assert r.status_code == 200, r.text
        answers[label] = (r.json()["counter_code"], r.json()["device_code"])
    assert answers == {"Handheld Apple 1": ("C-APL", "H1"), "Handheld Huawei 1": ("C-HUA", "H1"), "Till 1": ("", "T1")}
    # A second handheld at the Apple counter is H2, and stays H2 whatever is created after it.
    apple = await conn.fetchval("SELECT id FROM counter WHERE code = 'C-APL'")
    codes = []
    for label in ("Apple 2", "Apple 3"):
        created = await client.post(
            "/devices", json={"kind": "handheld", "label": label, "counter_id": str(apple)}, headers=headers
        )
        assert created.status_code == 201, created.text
        codes.append(created.json()["enrollment"]["code"])
    _, public = new_key()
    r = await client.post("/devices/enroll", json={"code": codes[1], "public_key": public})
    assert (r.json()["counter_code"], r.json()["device_code"]) == ("C-APL", "H3")
    _, public = new_key()
    r = await client.post("/devices/enroll", json={"code": codes[0], "public_key": public})
    assert (r.json()["counter_code"], r.json()["device_code"]) == ("C-APL", "H2")
