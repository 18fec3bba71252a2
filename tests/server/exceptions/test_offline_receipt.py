"""The till's provisional receipt number travels with an offline checkout, so an exception can be matched to
the customer's paper receipt; it is no part of the checkout's content, and a till that never sends it
still works."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from server.settings import Settings
from tests.server.checkout.conftest import Shop, checkout, tender
from tests.server.exceptions.test_queue import as_staff, body, offline, refused_with_exception, void

RECEIPT = "SH01-TA1B2C3-000007"


async def test_the_exception_names_the_customers_paper_receipt_in_the_api_and_the_fix(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    headers = await as_staff(conn, settings, "C001", shop)
    ticket = await shop.issue(conn)
    await void(conn, shop, ticket)
    req = msgspec.structs.replace(offline(checkout([ticket], tender("cash", ticket.total))), offline_receipt_no=RECEIPT)

    recorded = await refused_with_exception(api, req, headers, "ticket_not_open")
    assert recorded.offline_receipt_no == RECEIPT
    assert f"to the customer (receipt {RECEIPT}):" in recorded.fix_text["en"]
    assert f"（收据 {RECEIPT}）" in recorded.fix_text["zh"]
    supervisor = await as_staff(conn, settings, "V001")
    r = await api.get(f"/exceptions/{recorded.id}", headers=supervisor)
    assert r.json()["offline_receipt_no"] == RECEIPT
    r = await api.get("/exceptions", headers=supervisor)
    assert [x["offline_receipt_no"] for x in r.json()["exceptions"]] == [RECEIPT]
    r = await api.post("/exceptions/queries", json={"approval": {"staff_code": "V001", "pin": "4444"}}, headers=headers)
    assert [x["offline_receipt_no"] for x in r.json()["exceptions"]] == [RECEIPT]


async def test_a_till_that_sends_no_receipt_number_gets_an_exception_without_one(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    headers = await as_staff(conn, settings, "C001", shop)
    ticket = await shop.issue(conn)
    await void(conn, shop, ticket)
    old_till = body(offline(checkout([ticket], tender("cash", ticket.total))))
    del old_till["offline_receipt_no"]  # as an older till sends it
    r = await api.post("/checkouts", json=old_till, headers=headers)
    assert r.status_code == 409, r.text
    exception = r.json()["details"]["exception"]
    assert exception["offline_receipt_no"] == ""
    assert "receipt" not in exception["fix_text"]["en"]


async def test_the_receipt_number_is_no_part_of_the_checkouts_content(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    headers = await as_staff(conn, settings, "C001", shop)
    ticket = await shop.issue(conn)
    req = msgspec.structs.replace(offline(checkout([ticket], tender("cash", ticket.total))), offline_receipt_no=RECEIPT)
    r = await api.post("/checkouts", json=body(req), headers=headers)
    assert r.status_code == 200, r.text
    for resend in (
        msgspec.structs.replace(req, offline_receipt_no=None),
        msgspec.structs.replace(req, offline_receipt_no="X"),
    ):
        r = await api.post("/checkouts", json=body(resend), headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["replayed"] is True
    assert await conn.fetchval("SELECT count(*) FROM store_exception") == 0
    too_long = body(msgspec.structs.replace(req, id=ticket.id, offline_receipt_no=None)) | {
        "offline_receipt_no": "9" * 65
    }
    r = await api.post("/checkouts", json=too_long, headers=headers)
    assert r.status_code == 400, r.text
