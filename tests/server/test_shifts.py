"""Till shifts through the HTTP API and ``record_tender``, against real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from protocol.ids import new_id
from protocol.payments import OpenShift
from server.auth.guards import Caller
from server.demo import DemoInfo
from server.errors import AppError
from server.settings import Settings
from server.shifts.service import close_shift, open_shift, record_tender
from tests.auth_helpers import activate_device, bearer, token_for


@pytest.fixture
async def till(conn: asyncpg.Connection, demo: DemoInfo) -> uuid.UUID:
    till_id, _ = await activate_device(conn, "Till 1")
    return till_id


async def staff_headers(conn: asyncpg.Connection, settings: Settings, code: str, till: uuid.UUID) -> dict[str, str]:
    return bearer(await token_for(conn, code, settings.secret_key, device_id=till))


async def caller_for(conn: asyncpg.Connection, code: str, till: uuid.UUID | None) -> Caller:
    row = await conn.fetchrow("SELECT id, store_id, role FROM staff WHERE code = $1", code)
    return Caller(staff_id=row["id"], store_id=row["store_id"], role=row["role"], device_id=till)


async def add_cashier(conn: asyncpg.Connection, demo: DemoInfo, code: str = "C002") -> None:
    await conn.execute(
        "INSERT INTO staff (id, store_id, code, name, role) VALUES ($1, $2, $3, 'Second cashier', 'cashier')",
        new_id(),
        demo.store_id,
        code,
    )


async def test_a_shift_from_float_to_z_report(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, till: uuid.UUID
) -> None:
    h = await staff_headers(conn, settings, "C001", till)
    sid = new_id()
    opened = await client.post("/shifts", json={"shift_id": str(sid), "float_amount": 50_000}, headers=h)
    assert opened.status_code == 200, opened.text
    assert opened.json()["till_id"] == str(till)
    # What checkout, refunds and top-ups would record.
    await record_tender(conn, shift_id=sid, kind="sale", tender="cash", amount=30_000, reference="co-1")
    await record_tender(conn, shift_id=sid, kind="change", tender="cash", amount=1_200, reference="co-1")
    await record_tender(conn, shift_id=sid, kind="sale", tender="card", amount=599_900, reference="co-2")
    await record_tender(conn, shift_id=sid, kind="sale", tender="wallet", amount=14_900, reference="co-3")
    await record_tender(conn, shift_id=sid, kind="refund", tender="cash", amount=4_900, reference="rf-1")
    await record_tender(conn, shift_id=sid, kind="top_up", tender="cash", amount=100_000, reference="tu-1")
    await record_tender(conn, shift_id=sid, kind="sale", tender="stored_value", amount=20_000, reference="co-4")
    for kind, amount in (("pay_in", 5_000), ("pay_out", 2_000), ("drop", 100_000)):
        r = await client.post(
            f"/shifts/{sid}/movements", json={"movement_id": str(new_id()), "kind": kind, "amount": amount}, headers=h
        )
        assert r.status_code == 200, r.text
    x = (await client.get(f"/shifts/{sid}/report", headers=h)).json()
    assert x["final"] is False
    lines = {t["tender"]: t for t in x["tenders"]}
    cash = lines["cash"]
    expected_cash = 50_000 + 30_000 - 1_200 - 4_900 + 100_000 + 5_000 - 2_000 - 100_000
    assert cash["expected"] == expected_cash
    assert (cash["sales"], cash["change"], cash["refunds"], cash["drops"]) == (30_000, 1_200, 4_900, 100_000)
    assert lines["card"]["expected"] == 599_900
    assert lines["wallet"]["expected"] == 14_900
    assert lines["stored_value"]["sales"] == 20_000
    assert x["refund_count"] == 1
    # Close 300 fen short on cash; card counted exactly (terminal batch total).
    close = {"counted_cash": expected_cash - 300, "counted": {"card": 599_900}}
    z = await client.post(f"/shifts/{sid}/close", json=close, headers=h)
    assert z.status_code == 200, z.text
    zl = {t["tender"]: t for t in z.json()["tenders"]}
    assert (zl["cash"]["counted"], zl["cash"]["difference"]) == (expected_cash - 300, -300)
    assert zl["card"]["difference"] == 0
    assert zl["wallet"]["counted"] is None
    assert z.json()["final"] is True
    assert z.json()["shift"]["status"] == "closed"
    # The Z report is kept: asking again (or retrying the close) answers the same figures.
    again = await client.post(f"/shifts/{sid}/close", json={"counted_cash": 1}, headers=h)
    assert again.json()["tenders"] == z.json()["tenders"]
    assert (await client.get(f"/shifts/{sid}/report", headers=h)).json() == z.json()
    with pytest.raises(AppError) as info:
        await record_tender(conn, shift_id=sid, kind="sale", amount=100, reference="late")
    assert info.value.code == "shift_closed"
    actions = [
        r["action"] for r in await conn.fetch("SELECT action FROM audit_log WHERE object_type = 'shift' ORDER BY id")
    ]
    assert actions == ["shift.opened", "shift.pay_in", "shift.pay_out", "shift.drop", "shift.closed"]


async def test_one_open_shift_per_till_even_when_opened_at_once(
    db_dsn: str, conn: asyncpg.Connection, demo: DemoInfo, till: uuid.UUID
) -> None:
    await add_cashier(conn, demo)
    callers = [await caller_for(conn, code, till) for code in ("C001", "C002", "V001", "M001")]
    conns = [await asyncpg.connect(db_dsn) for _ in callers]
    try:
        results = await asyncio.gather(
            *(
                open_shift(c, who, OpenShift(shift_id=new_id(), float_amount=10_000))
                for c, who in zip(conns, callers, strict=True)
            ),
            return_exceptions=True,
        )
    finally:
        for c in conns:
            await c.close()
    opened = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, AppError)]
    assert len(opened) == 1
    assert len(refused) == 3
    assert {e.code for e in refused} == {"shift_already_open"}
    assert await conn.fetchval("SELECT count(*) FROM shift WHERE status = 'open'") == 1


async def test_only_the_shifts_cashier_or_a_supervisor_closes(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, demo: DemoInfo, till: uuid.UUID
) -> None:
    await add_cashier(conn, demo)
    mine = await staff_headers(conn, settings, "C001", till)
    other = await staff_headers(conn, settings, "C002", till)
    boss = await staff_headers(conn, settings, "V001", till)
    sales = await staff_headers(conn, settings, "S001", till)
    sid = new_id()
    await client.post("/shifts", json={"shift_id": str(sid), "float_amount": 0}, headers=mine)
    r = await client.post(f"/shifts/{sid}/close", json={"counted_cash": 0}, headers=other)
    assert r.status_code == 403
    assert r.json()["code"] == "shift_not_yours"
    assert (await client.post(f"/shifts/{sid}/close", json={"counted_cash": 0}, headers=sales)).status_code == 403
    drop = {"movement_id": str(new_id()), "kind": "drop", "amount": 1}
    assert (await client.post(f"/shifts/{sid}/movements", json=drop, headers=other)).status_code == 403
    r = await client.post(f"/shifts/{sid}/close", json={"counted_cash": 0}, headers=boss)
    assert r.status_code == 200
    assert r.json()["shift"]["closed_by"] == str(await conn.fetchval("SELECT id FROM staff WHERE code = 'V001'"))
    # The till is free again.
    again = await client.post("/shifts", json={"shift_id": str(new_id()), "float_amount": 0}, headers=other)
    assert again.status_code == 200


async def test_open_is_a_replay_and_refuses_handhelds_and_second_shifts(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, till: uuid.UUID
) -> None:
    h = await staff_headers(conn, settings, "C001", till)
    sid = new_id()
    first = await client.post("/shifts", json={"shift_id": str(sid), "float_amount": 20_000}, headers=h)
    replay = await client.post("/shifts", json={"shift_id": str(sid), "float_amount": 20_000}, headers=h)
    assert replay.json() == first.json()
    changed = await client.post("/shifts", json={"shift_id": str(sid), "float_amount": 1}, headers=h)
    assert changed.json()["code"] == "shift_id_reused"
    second = await client.post("/shifts", json={"shift_id": str(new_id()), "float_amount": 0}, headers=h)
    assert second.status_code == 409
    assert second.json()["code"] == "shift_already_open"
    assert second.json()["details"]["shift_id"] == str(sid)
    current = await client.get("/shifts/current", headers=h)
    assert current.json()["id"] == str(sid)
    handheld, _ = await activate_device(conn, "Handheld Apple 1")
    r = await client.post(
        "/shifts", json={"shift_id": str(new_id()), "float_amount": 0, "till_id": str(handheld)}, headers=h
    )
    assert r.json()["code"] == "not_a_till"


async def test_record_tender_is_idempotent_per_reference(conn: asyncpg.Connection, till: uuid.UUID) -> None:
    sid = new_id()
    await open_shift(conn, await caller_for(conn, "C001", till), OpenShift(shift_id=sid, float_amount=0))
    a = await record_tender(conn, shift_id=sid, kind="sale", tender="card", amount=500, reference="co-9")
    b = await record_tender(conn, shift_id=sid, kind="sale", tender="card", amount=500, reference="co-9")
    assert a.id == b.id
    with pytest.raises(AppError) as info:
        await record_tender(conn, shift_id=sid, kind="sale", tender="card", amount=501, reference="co-9")
    assert info.value.code == "movement_id_reused"
    assert await conn.fetchval("SELECT count(*) FROM shift_movement WHERE reference = 'co-9'") == 1


async def test_a_sale_committing_during_close_is_in_the_z_report(
    db_dsn: str, conn: asyncpg.Connection, till: uuid.UUID
) -> None:
    cashier = await caller_for(conn, "C001", till)
    sid = new_id()
    await open_shift(conn, cashier, OpenShift(shift_id=sid, float_amount=1_000))
    checkout = await asyncpg.connect(db_dsn)
    closer = await asyncpg.connect(db_dsn)
    try:
        tx = checkout.transaction()
        await tx.start()
        await record_tender(checkout, shift_id=sid, kind="sale", amount=700, reference="co-late")
        from protocol.payments import CloseShift

        closing = asyncio.create_task(close_shift(closer, cashier, sid, CloseShift(counted_cash=1_700)))
        await asyncio.sleep(0.2)
        assert not closing.done()  # the close waits for the checkout's transaction
        await tx.commit()
        z = await closing
    finally:
        await checkout.close()
        await closer.close()
    cash = next(t for t in z.tenders if t.tender == "cash")
    assert (cash.expected, cash.difference) == (1_700, 0)
