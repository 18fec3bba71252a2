"""The payments API through the real HTTP stack: retries, supervisors, store boundaries."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from protocol.ids import new_id
from server.demo import DemoInfo
from server.settings import Settings
from tests.server.payments.conftest import FAST, headers, make_client, other_store_staff


def body(pid: object, number: str | None = "4111111111111111", amount: int = 8_800) -> dict[str, Any]:
    out: dict[str, Any] = {"payment_id": str(pid), "tender": "card", "amount": amount}
    if number:
        out["card_number"] = number
    return out


async def test_payment_times_out_client_retries_exactly_one_charge(
    pay_client: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings
) -> None:
    h = await headers(conn, settings, "C001")
    pid = new_id()
    first = await pay_client.post("/payments", json=body(pid, "4000000000000119"), headers=h)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "unknown"
    retry = await pay_client.post("/payments", json=body(pid, "4000000000000119"), headers=h)
    assert retry.json()["status"] == "approved"
    assert retry.json()["last4"] == "0119"
    assert "card_number" not in retry.json()
    got = await pay_client.get(f"/payments/{pid}", headers=h)
    assert got.json()["status"] == "approved"
    ops = [r["op"] for r in await conn.fetch("SELECT op FROM sim_acquirer_call WHERE idempotency_key = $1", str(pid))]
    assert ops == ["charge", "query"]
    assert await conn.fetchval("SELECT count(*) FROM sim_acquirer_charge WHERE idempotency_key = $1", str(pid)) == 1


async def test_the_background_reconciler_resolves_unknown_payments(
    db_dsn: str, settings: Settings, demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    config = dataclasses.replace(FAST, reconcile_every_s=0.05, sim_unknown_settle_s=0.2)
    async with await make_client(db_dsn, settings, config) as client:
        h = await headers(conn, settings, "C001")
        pid = new_id()
        r = await client.post("/payments", json=body(pid, "4000000000000259"), headers=h)
        assert r.json()["status"] == "unknown"
        for _ in range(100):
            status = (await client.get(f"/payments/{pid}", headers=h)).json()["status"]
            if status == "approved":
                break
            await asyncio.sleep(0.05)
        assert status == "approved"
    ops = [r["op"] for r in await conn.fetch("SELECT op FROM sim_acquirer_call WHERE idempotency_key = $1", str(pid))]
    assert ops.count("charge") == 1
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'payment.reconciled.approved'") == 1


async def test_supervisor_resolves_one_payment_cashier_may_not(
    pay_client: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings
) -> None:
    cashier, supervisor = await headers(conn, settings, "C001"), await headers(conn, settings, "V001")
    pid = new_id()
    await pay_client.post("/payments", json=body(pid, "4000000000000127"), headers=cashier)
    listed = await pay_client.get("/payments/unresolved", headers=supervisor)
    assert [p["id"] for p in listed.json()["payments"]] == [str(pid)]
    refused = await pay_client.post(f"/payments/{pid}/resolve", json={}, headers=cashier)
    assert refused.status_code == 403
    resolved = await pay_client.post(f"/payments/{pid}/resolve", json={"note": "customer waiting"}, headers=supervisor)
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "failed"  # never reached the acquirer: safe to take again
    audit = await conn.fetchrow(
        "SELECT staff_id, action FROM audit_log WHERE object_id = $1 ORDER BY id DESC", str(pid)
    )
    assert audit["action"] == "payment.resolved.failed"
    assert audit["staff_id"] == await conn.fetchval("SELECT id FROM staff WHERE code = 'V001'")
    again = await pay_client.post("/payments", json=body(pid, "4111111111111111"), headers=cashier)
    assert again.json()["status"] == "approved"
    assert (await pay_client.get("/payments/unresolved", headers=supervisor)).json()["payments"] == []


async def test_another_stores_payment_is_not_found(
    pay_client: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings
) -> None:
    pid = new_id()
    await pay_client.post("/payments", json=body(pid), headers=await headers(conn, settings, "C001"))
    stranger = await headers(conn, settings, await other_store_staff(conn))
    assert (await pay_client.get(f"/payments/{pid}", headers=stranger)).status_code == 404
    assert (await pay_client.post(f"/payments/{pid}/resolve", json={}, headers=stranger)).status_code == 404
    r = await pay_client.post("/payments", json=body(pid), headers=stranger)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


async def test_reused_payment_id_names_the_field_and_bad_numbers_are_refused(
    pay_client: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings
) -> None:
    h = await headers(conn, settings, "S001")  # floor staff take card payments in one-stop mode
    pid = new_id()
    assert (await pay_client.post("/payments", json=body(pid), headers=h)).json()["status"] == "approved"
    r = await pay_client.post("/payments", json=body(pid, amount=1), headers=h)
    assert r.status_code == 409
    assert r.json()["code"] == "payment_id_reused"
    assert r.json()["details"]["field"] == "amount"
    bad = await pay_client.post("/payments", json=body(new_id(), "4111-1111"), headers=h)
    assert bad.status_code == 400
    assert bad.json()["code"] == "validation_failed"


async def test_supervisor_refunds_to_the_card(
    pay_client: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings
) -> None:
    cashier, supervisor = await headers(conn, settings, "C001"), await headers(conn, settings, "V001")
    pid = new_id()
    await pay_client.post("/payments", json=body(pid, amount=5_000), headers=cashier)
    refund = {"refund_id": str(new_id()), "amount": 2_000, "reason": "returned one item"}
    assert (await pay_client.post(f"/payments/{pid}/refunds", json=refund, headers=cashier)).status_code == 403
    r = await pay_client.post(f"/payments/{pid}/refunds", json=refund, headers=supervisor)
    assert r.status_code == 200
    assert r.json()["status"] == "approved"
    assert (await pay_client.get(f"/payments/{pid}", headers=cashier)).json()["refunded"] == 2_000
    too_much = {"refund_id": str(new_id()), "amount": 3_001}
    r = await pay_client.post(f"/payments/{pid}/refunds", json=too_much, headers=supervisor)
    assert r.status_code == 409
    assert r.json()["code"] == "refund_exceeds_payment"
