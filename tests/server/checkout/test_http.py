"""The checkout API as tills and handhelds call it: roles, device auth, replays, receipts, shifts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from nacl.signing import SigningKey

from protocol.checkout import CheckoutResult, OneStopRequest, RefundRequest, receipt_payload
from protocol.ids import new_id
from protocol.receipts import sign_receipt
from server.app import create_app
from server.checkout.config import CheckoutConfig
from server.receipts.verify import verify_receipt_for_store
from server.settings import Settings
from tests.auth_helpers import bearer, token_for
from tests.server.checkout.conftest import DECLINE, FLOAT, Shop, checkout, tender
from tests.server.payments.conftest import FAST


@pytest.fixture
async def api(db_dsn: str, settings: Settings, shop: Shop) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings, dsn=db_dsn)
    app.state.payments_config = FAST
    app.state.checkout_config = CheckoutConfig(refund_approval_limit=10**10)
    async with AsyncTestClient(app=app) as c:
        yield c


async def cashier(conn: asyncpg.Connection, settings: Settings, shop: Shop) -> dict[str, str]:
    """The demo cashier signed in on Till 1 (whose shift the shop fixture opened)."""
    return bearer(await token_for(conn, "C001", settings.secret_key, device_id=shop.till.device_id))


def body(obj: Any) -> Any:
    return msgspec.to_builtins(obj)


async def test_a_cashier_scans_the_member_and_settles_every_open_ticket(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    member = shop.members["QR-SL-0003"]
    a = await shop.issue(conn, "apple", member_id=member)
    h = await shop.issue(conn, "huawei", member_id=member)
    headers = await cashier(conn, settings, shop)
    r = await api.get("/checkouts/open-tickets", params={"member_code": "QR-SL-0003"}, headers=headers)
    assert r.status_code == 200, r.text
    found = r.json()
    assert {t["id"] for t in found["tickets"]} == {str(a.id), str(h.id)}
    req = checkout([a, h], tender("card", found["total"] - 5_000), tender("cash", 10_000), member_id=member)
    r = await api.post("/checkouts", json=body(req), headers=headers)
    assert r.status_code == 200, r.text
    result = msgspec.convert(r.json(), CheckoutResult)
    assert result.change == 5_000
    assert result.receipt_no.startswith("SH01-")
    assert all(len(line) <= 32 for line in result.receipt_text_58.splitlines())
    # a retry answers the stored result; GET finds it too
    again = await api.post("/checkouts", json=body(req), headers=headers)
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["receipt_no"] == result.receipt_no
    got = await api.get(f"/checkouts/{req.id}", headers=headers)
    assert got.json()["id"] == str(req.id)
    # the X report of the till's shift: cash in, change out
    report = (await api.get(f"/shifts/{shop.shift_id}/report", headers=headers)).json()
    cash = next(t for t in report["tenders"] if t["tender"] == "cash")
    assert cash["expected"] == FLOAT + 5_000
    card = next(t for t in report["tenders"] if t["tender"] == "card")
    assert card["sales"] == found["total"] - 5_000


async def test_the_till_signs_a_receipt_a_counter_can_verify(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    t = await shop.issue(conn)
    key = SigningKey.generate()
    await conn.execute("UPDATE device SET public_key = $2 WHERE id = $1", shop.till.device_id, bytes(key.verify_key))
    req = checkout([t], tender("cash", t.total))
    r = await api.post("/checkouts", json=body(req), headers=await cashier(conn, settings, shop))
    result = msgspec.convert(r.json(), CheckoutResult)
    qr = sign_receipt(receipt_payload(result, shop.till.device_id), bytes(key))
    proved = await verify_receipt_for_store(conn, shop.store_id, qr)
    assert proved.checkout_id == req.id
    assert [(x.id, x.total) for x in proved.tickets] == [(t.id, t.total)]


async def test_refusals_carry_a_code_and_a_sentence(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    t = await shop.issue(conn)
    headers = await cashier(conn, settings, shop)
    r = await api.post("/checkouts", json=body(checkout([t], tender("card", t.total, DECLINE))), headers=headers)
    assert r.status_code == 402
    assert r.json()["code"] == "payment_declined"
    r = await api.post("/checkouts", json=body(checkout([t], tender("card", t.total + 1))), headers=headers)
    assert r.status_code == 400
    assert r.json()["code"] == "non_cash_tender_overpays"
    # a cashier not signed in on a till has no drawer for cash
    no_till = bearer(await token_for(conn, "C001", settings.secret_key))
    r = await api.post("/checkouts", json=body(checkout([t], tender("cash", t.total))), headers=no_till)
    assert r.status_code == 409
    assert r.json()["code"] == "open_shift_required"


async def test_sales_staff_cannot_settle_or_refund(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    t = await shop.issue(conn)
    sales = bearer(await token_for(conn, "S001", settings.secret_key))
    r = await api.post("/checkouts", json=body(checkout([t], tender("card", t.total))), headers=sales)
    assert r.status_code == 403
    refund = RefundRequest(id=new_id(), checkout_id=new_id(), ticket_ids=[t.id])
    r = await api.post("/refunds", json=body(refund), headers=sales)
    assert r.status_code == 403


async def test_refund_over_http_with_supervisor_approval(
    db_dsn: str, conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    app = create_app(settings, dsn=db_dsn)
    app.state.payments_config = FAST
    app.state.checkout_config = CheckoutConfig(refund_approval_limit=1_000)
    t = await shop.issue(conn)
    async with AsyncTestClient(app=app) as api:
        headers = await cashier(conn, settings, shop)
        req = checkout([t], tender("wallet", t.total))
        assert (await api.post("/checkouts", json=body(req), headers=headers)).status_code == 200
        refund = RefundRequest(id=new_id(), checkout_id=req.id, ticket_ids=[t.id])
        r = await api.post("/refunds", json=body(refund), headers=headers)
        assert r.status_code == 403
        assert r.json()["code"] == "supervisor_approval_required"
        approved = body(refund) | {"approval": {"staff_code": "V001", "pin": "4444"}}
        r = await api.post("/refunds", json=approved, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["amount"] == t.total
        assert r.json()["tenders"] == [
            {
                "tender_id": str(req.tenders[0].id),
                "kind": "wallet",
                "amount": t.total,
                "to": "provider",
                "refund_ref": r.json()["tenders"][0]["refund_ref"],
            }
        ]


async def test_one_stop_a_handheld_settles_its_own_ticket_by_card(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, shop: Shop
) -> None:
    from tests.auth_helpers import activate_device

    t = await shop.issue(conn, "apple")
    mine = await shop.issue(conn, "apple")
    theirs = await shop.issue(conn, "huawei")
    _, token = await activate_device(conn, "Handheld Apple 1")  # a fresh token for the same handheld
    device = {"Authorization": f"Device {token}"}
    req = OneStopRequest(id=new_id(), ticket_id=t.id, tender=tender("card", t.total), expected_total=t.total)
    r = await api.post("/one-stop/checkouts", json=body(req), headers=device)
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "one_stop"
    state = await conn.fetchval("SELECT state FROM ticket WHERE id = $1", t.id)
    assert state == "paid"
    # cash is for the till; another handheld's ticket is settled there
    cash = OneStopRequest(id=new_id(), ticket_id=mine.id, tender=tender("cash", mine.total))
    r = await api.post("/one-stop/checkouts", json=body(cash), headers=device)
    assert r.status_code == 400
    assert r.json()["code"] == "tender_not_allowed_here"
    other = OneStopRequest(id=new_id(), ticket_id=theirs.id, tender=tender("card", theirs.total))
    r = await api.post("/one-stop/checkouts", json=body(other), headers=device)
    assert r.status_code == 403
    assert r.json()["code"] == "tender_not_allowed_here"
    # a staff token is not a device
    r = await api.post("/one-stop/checkouts", json=body(req), headers=bearer("x.y"))
    assert r.status_code == 401


async def test_a_left_behind_card_payment_is_listed_for_a_supervisor_to_give_back(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    t = await shop.issue(conn)
    first = tender("card", t.total - 1_000)
    req = checkout([t], first, tender("card", 1_000, DECLINE))
    r = await api.post("/checkouts", json=body(req), headers=await cashier(conn, settings, shop))
    assert r.json()["code"] == "payment_declined"
    supervisor = bearer(await token_for(conn, "V001", settings.secret_key))
    r = await api.get("/checkouts/stray-payments", params={"older_than_s": 0}, headers=supervisor)
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["payments"]] == [str(first.id)]
    r = await api.get("/checkouts/stray-payments", headers=await cashier(conn, settings, shop))
    assert r.status_code == 403
    back = {"refund_id": str(new_id()), "amount": t.total - 1_000, "reason": "customer left"}
    assert (await api.post(f"/payments/{first.id}/refunds", json=back, headers=supervisor)).status_code == 200
    r = await api.get("/checkouts/stray-payments", params={"older_than_s": 0}, headers=supervisor)
    assert r.json()["payments"] == []


async def test_a_receipt_finds_the_checkout_and_what_can_still_be_returned(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    t = await shop.issue(conn, lines=2, qty=2)
    key = SigningKey.generate()
    await conn.execute("UPDATE device SET public_key = $2 WHERE id = $1", shop.till.device_id, bytes(key.verify_key))
    headers = await cashier(conn, settings, shop)
    req = checkout([t], tender("card", t.total))
    result = msgspec.convert((await api.post("/checkouts", json=body(req), headers=headers)).json(), CheckoutResult)
    one = {"ticket_id": str(t.id), "line_no": 2, "qty": 1}
    refund = {"id": str(new_id()), "checkout_id": str(req.id), "lines": [one]}
    assert (await api.post("/refunds", json=refund, headers=headers)).status_code == 200
    qr = sign_receipt(receipt_payload(result, shop.till.device_id), bytes(key))
    for receipt in (result.receipt_no, qr):
        r = await api.get("/checkouts/for-refund", params={"receipt": receipt}, headers=headers)
        assert r.status_code == 200, r.text
        found = r.json()
        assert found["checkout"]["id"] == str(req.id)
        assert [(ln["line_no"], ln["qty"], ln["returned"]) for ln in found["lines"]] == [(1, 2, 0), (2, 2, 1)]
        assert found["refunded"] == t.lines[1].line_total // 2
    r = await api.get("/checkouts/for-refund", params={"receipt": "SH01-0000000000"}, headers=headers)
    assert r.status_code == 404
