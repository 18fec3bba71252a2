"""The member and loyalty endpoints: roles, store ownership, masking on the wire, pagination, allowances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from protocol.ids import new_id
from protocol.members import MemberCodes
from tests.auth_helpers import activate_device, bearer, token_for

NATIONAL_ID = "310101198001011234"


@pytest.fixture
async def tokens(db_dsn, demo, settings, other_store) -> dict[str, str]:
    c = await asyncpg.connect(db_dsn)
    try:
        out = {code: await token_for(c, code, settings.secret_key) for code in ("S001", "C001", "M001", "A001")}
        # a cashier of another store
        await c.execute(
            "INSERT INTO staff (id, store_id, code, name, role) VALUES ($1, $2, 'C900', 'Other cashier', 'cashier')",
            new_id(),
            other_store,
        )
        out["other"] = await token_for(c, "C900", settings.secret_key)
        return out
    finally:
        await c.close()


async def enrol(client, token, phone, **extra):
    resp = await client.post("/api/members/", json={"name": "顾客 Customer", "phone": phone, **extra},
                             headers=bearer(token))  # fmt: skip
    assert resp.status_code == 201, resp.text
    return resp.json()


async def test_cashier_enrols_looks_up_and_tops_up_with_masked_personal_data(client, tokens):
    m = await enrol(client, tokens["C001"], "13700000001", national_id=NATIONAL_ID, cards=["CARD-7001"])
    assert m["phone_masked"] == "137****0001"
    assert m["national_id_masked"] == "3101**********1234"
    assert NATIONAL_ID not in str(m)
    found = await client.post("/api/members/lookup", json={"card": "CARD-7001"}, headers=bearer(tokens["S001"]))
    assert found.json()["id"] == m["id"]
    body = {"movement_id": str(new_id()), "amount": 8_800}
    r1 = await client.post(f"/api/members/{m['id']}/top-ups", json=body, headers=bearer(tokens["C001"]))
    r2 = await client.post(f"/api/members/{m['id']}/top-ups", json=body, headers=bearer(tokens["C001"]))
    assert r1.status_code == 201
    assert r1.json() == r2.json()
    r3 = await client.post(f"/api/members/{m['id']}/top-ups", json=body | {"amount": 1}, headers=bearer(tokens["C001"]))
    assert r3.status_code == 409
    assert r3.json()["code"] == MemberCodes.MOVEMENT_ID_REUSED
    bal = await client.get(f"/api/members/{m['id']}/balances", headers=bearer(tokens["C001"]))
    assert bal.json()["stored_value"] == 8_800
    listed = await client.get("/api/members/", headers=bearer(tokens["M001"]))
    assert NATIONAL_ID not in listed.text
    assert "13700000001" not in listed.text


async def test_role_refusals(client, tokens):
    m = await enrol(client, tokens["C001"], "13700000002")
    sales = bearer(tokens["S001"])
    resp = await client.post(f"/api/members/{m['id']}/top-ups", json={"movement_id": str(new_id()), "amount": 1},
                             headers=sales)  # fmt: skip
    assert resp.status_code == 403
    assert resp.json()["code"] == "forbidden"
    resp = await client.post("/api/admin/loyalty/rules", json={"rate": 1, "promo_rate": 1},
                             headers=bearer(tokens["C001"]))  # fmt: skip
    assert resp.status_code == 403
    resp = await client.get("/api/admin/ledger/check", headers=bearer(tokens["C001"]))
    assert resp.status_code == 403
    resp = await client.put("/api/admin/loyalty/tiers/vip", json={"code": "vip", "name": "VIP", "min_spend": 1,
                            "multiplier": 100}, headers=bearer(tokens["M001"]))  # fmt: skip
    assert resp.status_code == 403
    resp = await client.post("/api/members/merge", json={"survivor_id": m["id"], "absorbed_id": m["id"],
                             "movement_id": str(new_id())}, headers=bearer(tokens["C001"]))  # fmt: skip
    assert resp.status_code == 403


async def test_another_stores_ids_answer_not_found(client, tokens):
    m = await enrol(client, tokens["C001"], "13700000003", cards=["CARD-7003"])
    other = bearer(tokens["other"])
    for path in (f"/api/members/{m['id']}", f"/api/members/{m['id']}/balances", f"/api/members/{m['id']}/statement"):
        resp = await client.get(path, headers=other)
        assert resp.status_code == 404, path
        assert resp.json()["code"] == "not_found"
    resp = await client.post(f"/api/members/{m['id']}/top-ups", json={"movement_id": str(new_id()), "amount": 1},
                             headers=other)  # fmt: skip
    assert resp.status_code == 404
    # the customer presents the card in the other store: now they are served there
    assert (await client.post("/api/members/lookup", json={"card": "CARD-7003"}, headers=other)).status_code == 200
    assert (await client.get(f"/api/members/{m['id']}/balances", headers=other)).status_code == 200


async def test_statement_is_paginated_newest_first(client, tokens):
    m = await enrol(client, tokens["C001"], "13700000004")
    for amount in range(1, 8):
        await client.post(f"/api/members/{m['id']}/top-ups", json={"movement_id": str(new_id()), "amount": amount},
                          headers=bearer(tokens["C001"]))  # fmt: skip
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/api/members/{m['id']}/statement", params=params,
                                 headers=bearer(tokens["C001"]))).json()  # fmt: skip
        seen += [e["amount"] for e in page["entries"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    assert pages == 3
    assert all(e["movement"] == "top_up" for e in page["entries"])


async def test_manager_edits_rules_and_settings_and_checks_the_ledger(client, tokens, demo, db_dsn):
    mgr = bearer(tokens["M001"])
    rule = await client.post("/api/admin/loyalty/rules", json={"store_id": str(demo.store_id), "category": "audio",
                             "rate": 400, "promo_rate": 200}, headers=mgr)  # fmt: skip
    assert rule.status_code == 201, rule.text
    rid = rule.json()["id"]
    changed = await client.put(f"/api/admin/loyalty/rules/{rid}", json={"rate": 300, "promo_rate": 100}, headers=mgr)
    assert changed.json()["rate"] == 300
    assert any(r["id"] == rid for r in (await client.get("/api/admin/loyalty/rules", headers=mgr)).json())
    chain_wide = await client.post("/api/admin/loyalty/rules", json={"rate": 1, "promo_rate": 1}, headers=mgr)
    assert chain_wide.status_code == 403
    assert (await client.delete(f"/api/admin/loyalty/rules/{rid}", headers=mgr)).status_code == 204
    s = await client.put("/api/admin/loyalty/settings", json={"attach_days": 14}, headers=mgr)
    assert s.json() == {"attach_days": 14}
    tiers = await client.get("/api/admin/loyalty/tiers", headers=mgr)
    assert [t["code"] for t in tiers.json()] == ["star1", "star2", "star3"]
    admin = bearer(tokens["A001"])
    put = await client.put("/api/admin/loyalty/tiers/star4", json={"code": "star4", "name": "四星", "min_spend":
                           9_000_000, "multiplier": 200}, headers=admin)  # fmt: skip
    assert put.status_code == 200, put.text
    check = await client.get("/api/admin/ledger/check", headers=mgr)
    assert check.json()["ok"] is True
    assert check.json()["accounts_checked"] > 0
    expire = await client.post("/api/admin/ledger/expire-ecoin", headers=mgr)
    assert expire.json() == {"lots_expired": 0, "amount": 0}
    c = await asyncpg.connect(db_dsn)
    try:
        audit = await c.fetchval("SELECT count(*) FROM audit_log WHERE action LIKE 'earning_rule.%'")
    finally:
        await c.close()
    assert audit == 3


async def test_attach_purchase_endpoint(client, tokens):
    m = await enrol(client, tokens["C001"], "13700000005")
    body = {
        "movement_id": str(new_id()), "receipt_no": "SH01-20261207-0042", "amount": 20_000,
        "purchased_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "lines": [{"line_no": 1, "sku": "HUA-FB5", "category": "audio", "amount": 20_000, "promo": False}],
    }  # fmt: skip
    r = await client.post(f"/api/members/{m['id']}/attach-purchase", json=body, headers=bearer(tokens["C001"]))
    assert r.status_code == 201, r.text
    assert r.json()["points"] == 200
    again = await client.post(f"/api/members/{m['id']}/attach-purchase", json=body | {"movement_id": str(new_id())},
                              headers=bearer(tokens["C001"]))  # fmt: skip
    assert again.status_code == 409
    assert again.json()["code"] == MemberCodes.PURCHASE_ALREADY_EARNED


async def test_offline_allowance_grant_spend_on_sync_and_return(client, tokens, db_dsn):
    m = await enrol(client, tokens["C001"], "13700000006")
    await client.post(f"/api/members/{m['id']}/top-ups", json={"movement_id": str(new_id()), "amount": 10_000},
                      headers=bearer(tokens["C001"]))  # fmt: skip
    c = await asyncpg.connect(db_dsn)
    try:
        _, till = await activate_device(c, "Till 1")
    finally:
        await c.close()
    dev = {"Authorization": f"Device {till}"}
    aid = str(new_id())
    grant = {"allowance_id": aid, "member_id": m["id"], "kind": "stored_value", "amount": 6_000,
             "expires_at": (datetime.now(UTC) + timedelta(hours=4)).isoformat()}  # fmt: skip
    g = await client.post("/api/device/allowances/", json=grant, headers=dev)
    assert g.status_code == 201, g.text
    bal = (await client.get(f"/api/members/{m['id']}/balances", headers=bearer(tokens["C001"]))).json()
    assert bal["stored_value"] == 4_000  # the rest is reserved for the till
    spend = {"spend_id": str(new_id()), "amount": 2_500, "reference": "offline-receipt-1"}
    s1 = await client.post(f"/api/device/allowances/{aid}/spends", json=spend, headers=dev)
    s2 = await client.post(f"/api/device/allowances/{aid}/spends", json=spend, headers=dev)  # resent on sync
    assert s1.json()["spent"] == 2_500
    assert s2.json()["spent"] == 2_500
    over = await client.post(f"/api/device/allowances/{aid}/spends", json={"spend_id": str(new_id()),
                             "amount": 4_000}, headers=dev)  # fmt: skip
    assert over.status_code == 409
    assert over.json()["code"] == MemberCodes.CAPTURE_EXCEEDS_HOLD
    back = await client.post(f"/api/device/allowances/{aid}/return", headers=dev)
    assert back.json()["state"] == "captured"
    late = await client.post(f"/api/device/allowances/{aid}/spends", json={"spend_id": str(new_id()), "amount": 1},
                             headers=dev)  # fmt: skip
    assert late.json()["code"] == MemberCodes.HOLD_CLOSED
    bal = (await client.get(f"/api/members/{m['id']}/balances", headers=bearer(tokens["C001"]))).json()
    assert bal["stored_value"] == 7_500
    check = await client.get("/api/admin/ledger/check", headers=bearer(tokens["M001"]))
    assert check.json()["ok"] is True
