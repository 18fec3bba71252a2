"""Refunds and returns: back to the original tenders, member movements reversed, supervisor approval."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import msgspec
import pytest

from protocol.checkout import CheckoutCodes, CheckoutResult, RefundLineRequest, RefundRequest, SupervisorApproval
from protocol.errors import Codes
from protocol.ids import new_id
from protocol.tickets import Ticket
from server.checkout import refunds, service
from server.checkout.config import CheckoutConfig
from server.checkout.service import Payments
from server.errors import AppError
from server.settings import Settings
from tests.server.checkout.conftest import CONFIG, Shop, balance, checkout, tender


def refund_req(result: CheckoutResult, **kw: object) -> RefundRequest:
    return RefundRequest(id=new_id(), checkout_id=result.id, reason="customer changed mind", **kw)  # type: ignore[arg-type]


async def paid_with_cash_and_card(conn: asyncpg.Connection, shop: Shop, pay: Payments) -> tuple[Ticket, CheckoutResult]:
    t = await shop.issue(conn, lines=2, qty=3, discount=100)
    half = t.total // 2
    result = await service.settle(
        conn, shop.who(), checkout([t], tender("cash", t.total - half), tender("card", half)), pay, CONFIG
    )
    return t, result


async def test_a_returned_line_goes_back_to_cash_and_card_in_proportion(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_with_cash_and_card(conn, shop, pay)
    line = t.lines[0]
    req = refund_req(paid, lines=[RefundLineRequest(ticket_id=t.id, line_no=line.line_no, qty=1)])
    result = await refunds.refund(conn, shop.who(), req, pay, CONFIG, settings)
    expected = line.line_total // 3  # one of three units, its discount pro-rated
    assert result.amount == expected
    assert sum(s.amount for s in result.tenders) == expected
    to = {s.to: s.amount for s in result.tenders}
    assert set(to) == {"drawer", "provider"}
    card_tender = paid.tenders[1]
    card = await conn.fetchrow("SELECT refunded FROM payment WHERE id = $1", card_tender.id)
    assert card["refunded"] == to["provider"]  # really given back through the provider
    # the drawer's refund is in the shift
    moved = await conn.fetchval(
        "SELECT sum(amount) FROM shift_movement WHERE shift_id = $1 AND kind = 'refund' AND tender = 'cash'",
        shop.shift_id,
    )
    assert moved == -to["drawer"]


async def test_whole_ticket_in_steps_never_gives_back_more_than_was_paid(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_with_cash_and_card(conn, shop, pay)
    first = RefundLineRequest(ticket_id=t.id, line_no=1, qty=2)
    await refunds.refund(conn, shop.who(), refund_req(paid, lines=[first]), pay, CONFIG, settings)
    rest = await refunds.refund(conn, shop.who(), refund_req(paid, ticket_ids=[t.id]), pay, CONFIG, settings)
    assert {(ln.line_no, ln.qty) for ln in rest.lines} == {(1, 1), (2, 3)}
    rows = await conn.fetch("SELECT applied, refunded FROM tender WHERE checkout_id = $1", paid.id)
    assert all(r["applied"] == r["refunded"] for r in rows)
    assert await conn.fetchval("SELECT refunded FROM checkout WHERE id = $1", paid.id) == t.total
    with pytest.raises(AppError) as info:
        await refunds.refund(conn, shop.who(), refund_req(paid, ticket_ids=[t.id]), pay, CONFIG, settings)
    assert info.value.code == CheckoutCodes.TICKET_REFUNDED
    again = RefundLineRequest(ticket_id=t.id, line_no=2, qty=1)
    with pytest.raises(AppError) as info:
        await refunds.refund(conn, shop.who(), refund_req(paid, lines=[again]), pay, CONFIG, settings)
    assert info.value.code == CheckoutCodes.TICKET_REFUNDED


async def test_a_retried_refund_is_a_replay(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_with_cash_and_card(conn, shop, pay)
    req = refund_req(paid, ticket_ids=[t.id])
    first = await refunds.refund(conn, shop.who(), req, pay, CONFIG, settings)
    again = await refunds.refund(conn, shop.who(), req, pay, CONFIG, settings)
    assert again.replayed
    assert msgspec.structs.replace(again, replayed=False) == first
    assert await conn.fetchval("SELECT count(*) FROM refund WHERE checkout_id = $1", paid.id) == 1
    other = msgspec.structs.replace(req, ticket_ids=[], lines=[RefundLineRequest(ticket_id=t.id, line_no=1, qty=1)])
    with pytest.raises(AppError) as info:
        await refunds.refund(conn, shop.who(), other, pay, CONFIG, settings)
    assert info.value.code == CheckoutCodes.REFUND_ID_REUSED


async def test_two_tills_refunding_the_same_ticket_at_once_give_it_back_once(
    db_dsn: str, conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_with_cash_and_card(conn, shop, pay)
    conns = [await asyncpg.connect(db_dsn) for _ in range(2)]
    try:
        outcomes = await asyncio.gather(
            *(refunds.refund(c, shop.who(), refund_req(paid, ticket_ids=[t.id]), pay, CONFIG, settings) for c in conns),
            return_exceptions=True,
        )
    finally:
        for c in conns:
            await c.close()
    assert sum(1 for o in outcomes if not isinstance(o, BaseException)) == 1
    assert [o.code for o in outcomes if isinstance(o, AppError)] == [CheckoutCodes.TICKET_REFUNDED]
    assert await conn.fetchval("SELECT refunded FROM checkout WHERE id = $1", paid.id) == t.total


async def test_member_balances_come_back_and_earned_points_come_off(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    member = shop.members["QR-ZM-0001"]
    t = await shop.issue(conn, member_id=member, lines=2)
    sv = tender("stored_value", 30_000)
    paid = await service.settle(conn, shop.who(), checkout([t], sv, tender("card", t.total - 30_000)), pay, CONFIG)
    sv_after_sale, pts_after_sale = await balance(conn, member, "stored_value"), await balance(conn, member, "points")
    result = await refunds.refund(
        conn, shop.who(), refund_req(paid, ticket_ids=[t.id]), pay, CheckoutConfig(10**9), settings
    )
    assert result.points_reversed == paid.points_earned > 0
    assert await balance(conn, member, "stored_value") == sv_after_sale + 30_000
    assert await balance(conn, member, "points") == pts_after_sale - paid.points_earned
    # as new entries: the sale's entries are still there
    kinds = await conn.fetch("SELECT kind FROM ledger_movement WHERE member_id = $1 ORDER BY at", member)
    assert {"capture", "earn", "refund_tender", "reverse_earn"} <= {r["kind"] for r in kinds}


async def test_above_the_limit_a_supervisor_approves_with_their_own_pin(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_with_cash_and_card(conn, shop, pay)
    strict = CheckoutConfig(refund_approval_limit=t.total - 1)
    req = refund_req(paid, ticket_ids=[t.id])
    with pytest.raises(AppError) as info:
        await refunds.refund(conn, shop.who(), req, pay, strict, settings)
    assert info.value.code == CheckoutCodes.APPROVAL_REQUIRED
    assert info.value.status == 403
    for code, pin in (("V001", "0000"), ("C001", "3333"), ("S001", "1111")):  # wrong PIN, not supervisors
        bad = msgspec.structs.replace(req, approval=SupervisorApproval(staff_code=code, pin=pin))
        with pytest.raises(AppError) as info:
            await refunds.refund(conn, shop.who(), bad, pay, strict, settings)
        assert info.value.code == CheckoutCodes.APPROVAL_REFUSED
    assert await conn.fetchval("SELECT count(*) FROM refund") == 0
    good = msgspec.structs.replace(req, approval=SupervisorApproval(staff_code="V001", pin="4444"))
    result = await refunds.refund(conn, shop.who(), good, pay, strict, settings)
    supervisor = await conn.fetchval("SELECT id FROM staff WHERE code = 'V001'")
    assert result.approved_by == supervisor
    audited = await conn.fetchval(
        "SELECT details->>'approved_by' FROM audit_log WHERE action = 'checkout.refunded' AND object_id = $1",
        str(paid.id),
    )
    assert audited == str(supervisor)


async def test_wrong_supervisor_pins_lock_the_supervisor_out(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_with_cash_and_card(conn, shop, pay)
    strict = CheckoutConfig(refund_approval_limit=0)
    guess = refund_req(paid, ticket_ids=[t.id], approval=SupervisorApproval(staff_code="V001", pin="0000"))
    for _ in range(settings.lockout_attempts):
        with pytest.raises(AppError):
            await refunds.refund(conn, shop.who(), guess, pay, strict, settings)
    right = msgspec.structs.replace(guess, approval=SupervisorApproval(staff_code="V001", pin="4444"))
    with pytest.raises(AppError) as info:
        await refunds.refund(conn, shop.who(), right, pay, strict, settings)
    assert info.value.code == Codes.LOCKED_OUT


async def test_small_refunds_cannot_dodge_the_limit(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_with_cash_and_card(conn, shop, pay)
    line = t.lines[0]
    limit = CheckoutConfig(refund_approval_limit=line.line_total // 3 + 1)
    one = RefundLineRequest(ticket_id=t.id, line_no=line.line_no, qty=1)
    await refunds.refund(conn, shop.who(), refund_req(paid, lines=[one]), pay, limit, settings)
    with pytest.raises(AppError) as info:
        await refunds.refund(conn, shop.who(), refund_req(paid, lines=[one]), pay, limit, settings)
    assert info.value.code == CheckoutCodes.APPROVAL_REQUIRED


async def test_refunds_stay_in_their_store_and_checkout(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_with_cash_and_card(conn, shop, pay)
    stranger = await shop.issue(conn, "huawei")
    with pytest.raises(AppError) as info:
        await refunds.refund(conn, shop.who(), refund_req(paid, ticket_ids=[stranger.id]), pay, CONFIG, settings)
    assert info.value.code == CheckoutCodes.TICKET_NOT_IN_CHECKOUT
    elsewhere = dataclasses.replace(shop.who(), store_id=new_id())
    with pytest.raises(AppError) as info:
        await refunds.refund(conn, elsewhere, refund_req(paid, ticket_ids=[t.id]), pay, CONFIG, settings)
    assert info.value.code == Codes.NOT_FOUND


async def test_campaign_ecoin_earned_by_the_sale_comes_back_off_in_proportion(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    member = shop.members["QR-ZM-0001"]
    t = await shop.issue(conn, member_id=member, lines=2)  # above the demo campaign's ¥2,000: 100.00 e-coin
    ecoin_before = await balance(conn, member, "e_coin")
    paid = await service.settle(conn, shop.who(), checkout([t], tender("card", t.total)), pay, CONFIG)
    earned = await balance(conn, member, "e_coin") - ecoin_before
    assert earned == 10_000
    first = t.lines[0]
    part = await refunds.refund(
        conn,
        shop.who(),
        refund_req(paid, lines=[RefundLineRequest(ticket_id=t.id, line_no=first.line_no, qty=1)]),
        pay,
        CONFIG,
        settings,
    )
    assert part.e_coin_reversed == earned * first.line_total // t.total
    rest = await refunds.refund(conn, shop.who(), refund_req(paid, ticket_ids=[t.id]), pay, CONFIG, settings)
    assert part.e_coin_reversed + rest.e_coin_reversed == earned
    assert await balance(conn, member, "e_coin") == ecoin_before
