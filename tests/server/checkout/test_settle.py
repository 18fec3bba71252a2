"""Settling consolidated checkouts against real PostgreSQL and the simulated acquirer."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import pytest

from protocol.checkout import CheckoutCodes
from protocol.ids import new_id
from protocol.ticket_codes import TicketCodes
from protocol.tickets import VoidTicket
from server import events
from server.checkout import service
from server.checkout.service import Payments
from server.errors import AppError
from server.sync.service import apply_commands
from server.tickets import service as tickets
from tests.server.checkout.conftest import (
    CONFIG,
    DECLINE,
    TIMEOUT_CHARGED,
    Shop,
    balance,
    charges_at_acquirer,
    checkout,
    tender,
)


async def test_tickets_of_two_counters_settle_once_with_card_and_cash_change(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    a1 = await shop.issue(conn, "apple")
    a2 = await shop.issue(conn, "apple", lines=1)
    h1 = await shop.issue(conn, "huawei")
    total = a1.total + a2.total + h1.total
    before = await events.head(conn, shop.store_id)
    card = tender("card", total - 10_000)
    cash = tender("cash", 20_000)
    req = checkout([a1, a2, h1], card, cash)

    result = await service.settle(conn, shop.who(), req, pay, CONFIG)

    assert result.total == total
    assert result.change == 10_000
    assert [t.applied for t in result.tenders] == [total - 10_000, 10_000]
    assert result.tenders[0].masked == "**** 1111"
    assert [t.number for t in result.tickets] == [a1.number, a2.number, h1.number]
    assert a1.number in result.receipt_text
    assert "**** 1111" in result.receipt_text or "****1111" in result.receipt_text
    assert all(len(line) <= 48 for line in result.receipt_text.splitlines())
    for t in (a1, a2, h1):
        paid = await tickets.get_ticket(conn, shop.store_id, t.id)
        assert paid.state == "paid"
        assert paid.checkout_id == req.id
    # the paid events that reach the issuing handhelds and the tills
    paid_events = [e for e in await events.read_after(conn, shop.store_id, before) if e.kind == "ticket_paid"]
    assert {e.ticket.id for e in paid_events} == {a1.id, a2.id, h1.id}
    # concession attribution: each ticket's amount is kept with its counter
    rows = await conn.fetch(
        "SELECT counter_id, amount FROM checkout_ticket WHERE checkout_id = $1 ORDER BY seq", req.id
    )
    assert [(r["counter_id"], r["amount"]) for r in rows] == [
        (shop.apple.counter_id, a1.total),
        (shop.apple.counter_id, a2.total),
        (shop.huawei.counter_id, h1.total),
    ]
    assert await charges_at_acquirer(conn, card.id) == 1
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'checkout.settled'") == 1


async def test_a_retry_is_a_replay_and_never_charges_twice(conn: asyncpg.Connection, shop: Shop, pay: Payments) -> None:
    t = await shop.issue(conn)
    card = tender("card", t.total)
    req = checkout([t], card)
    first = await service.settle(conn, shop.who(), req, pay, CONFIG)
    again = await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert again.replayed
    assert not first.replayed
    assert msgspec.structs.replace(again, replayed=False) == first
    assert await charges_at_acquirer(conn, card.id) == 1


async def test_same_id_with_other_content_is_refused_naming_the_field(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    t = await shop.issue(conn)
    req = checkout([t], tender("cash", t.total))
    await service.settle(conn, shop.who(), req, pay, CONFIG)
    changed = msgspec.structs.replace(req, tenders=[msgspec.structs.replace(req.tenders[0], amount=t.total + 100)])
    with pytest.raises(AppError) as info:
        await service.settle(conn, shop.who(), changed, pay, CONFIG)
    assert info.value.code == CheckoutCodes.CHECKOUT_ID_REUSED
    assert info.value.details["field"] == "tenders[0].amount"


async def test_one_ticket_in_two_concurrent_checkouts_exactly_one_wins(
    db_dsn: str, conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    shared = await shop.issue(conn, "apple")
    other = await shop.issue(conn, "huawei")
    req1 = checkout([shared], tender("cash", shared.total))
    req2 = checkout([other, shared], tender("cash", other.total + shared.total))
    c1, c2 = await asyncpg.connect(db_dsn), await asyncpg.connect(db_dsn)
    try:
        outcomes = await asyncio.gather(
            service.settle(c1, shop.who(), req1, pay, CONFIG),
            service.settle(c2, shop.who(), req2, pay, CONFIG),
            return_exceptions=True,
        )
    finally:
        await c1.close()
        await c2.close()
    wins = [o for o in outcomes if not isinstance(o, BaseException)]
    losses = [o for o in outcomes if isinstance(o, AppError)]
    assert len(wins) == 1
    assert len(losses) == 1, outcomes
    assert losses[0].code == CheckoutCodes.TICKET_ALREADY_IN_CHECKOUT
    assert "already paid" in losses[0].message
    # all or nothing: the loser's other ticket is still open
    winner = wins[0]
    assert (await tickets.get_ticket(conn, shop.store_id, shared.id)).checkout_id == winner.id
    expect_other = "paid" if winner.id == req2.id else "issued"
    assert (await tickets.get_ticket(conn, shop.store_id, other.id)).state == expect_other
    assert await conn.fetchval("SELECT count(*) FROM checkout_ticket WHERE ticket_id = $1", shared.id) == 1


async def test_the_losing_checkouts_card_is_given_back(
    db_dsn: str, conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    t = await shop.issue(conn)
    cards = [tender("card", t.total), tender("wallet", t.total)]
    reqs = [checkout([t], card) for card in cards]
    conns = [await asyncpg.connect(db_dsn) for _ in reqs]
    try:
        outcomes = await asyncio.gather(
            *(service.settle(c, shop.who(), r, pay, CONFIG) for c, r in zip(conns, reqs, strict=True)),
            return_exceptions=True,
        )
    finally:
        for c in conns:
            await c.close()
    assert sum(1 for o in outcomes if not isinstance(o, BaseException)) == 1
    lost = next(i for i, o in enumerate(outcomes) if isinstance(o, AppError))
    assert outcomes[lost].code == CheckoutCodes.TICKET_ALREADY_IN_CHECKOUT  # type: ignore[union-attr]
    payment = await conn.fetchrow("SELECT status, amount, refunded FROM payment WHERE id = $1", cards[lost].id)
    assert payment["status"] == "approved"
    assert payment["refunded"] == payment["amount"]  # charged, then given back in full


async def test_a_voided_ticket_refuses_the_whole_checkout(conn: asyncpg.Connection, shop: Shop, pay: Payments) -> None:
    good = await shop.issue(conn, "apple")
    bad = await shop.issue(conn, "huawei")
    (voided,), _ = await apply_commands(
        conn, shop.hh_huawei, [VoidTicket(command_id=new_id(), device_seq=99, ticket_id=bad.id)]
    )
    assert voided.status == "applied"
    card = tender("card", good.total + bad.total)
    with pytest.raises(AppError) as info:
        await service.settle(conn, shop.who(), checkout([good, bad], card), pay, CONFIG)
    assert info.value.code == CheckoutCodes.TICKET_NOT_OPEN
    assert (await tickets.get_ticket(conn, shop.store_id, good.id)).state == "issued"
    assert await charges_at_acquirer(conn, card.id) == 0  # refused before the card was touched


async def test_a_declined_card_pays_nothing_and_a_new_card_settles(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    t = await shop.issue(conn)
    req = checkout([t], tender("card", t.total, DECLINE))
    with pytest.raises(AppError) as info:
        await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert info.value.code == CheckoutCodes.PAYMENT_DECLINED
    assert info.value.details["reason"] == "insufficient_funds"
    assert (await tickets.get_ticket(conn, shop.store_id, t.id)).state == "issued"
    # nothing was stored under the checkout id: the till retries it with a new card tender
    retry = msgspec.structs.replace(req, tenders=[tender("card", t.total)])
    assert (await service.settle(conn, shop.who(), retry, pay, CONFIG)).id == req.id


async def test_a_timed_out_card_is_asked_about_on_retry_not_charged_again(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    t = await shop.issue(conn)
    card = tender("card", t.total, TIMEOUT_CHARGED)
    req = checkout([t], card)
    with pytest.raises(AppError) as info:
        await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert info.value.code == CheckoutCodes.PAYMENT_UNKNOWN
    assert (await tickets.get_ticket(conn, shop.store_id, t.id)).state == "issued"
    result = await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert result.tenders[0].applied == t.total
    assert await charges_at_acquirer(conn, card.id) == 1


async def test_member_balances_and_earning_in_the_same_transaction(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    member = shop.members["QR-ZM-0001"]
    a = await shop.issue(conn, "apple", member_id=member)
    h = await shop.issue(conn, "huawei", member_id=member)
    sv_before, pts_before = await balance(conn, member, "stored_value"), await balance(conn, member, "points")
    sv, pts = tender("stored_value", 50_000), tender("points", 1_000)
    card = tender("card", a.total + h.total - 51_000)
    result = await service.settle(conn, shop.who(), checkout([a, h], sv, pts, card), pay, CONFIG)
    assert result.member_id == member
    assert result.points_earned > 0
    assert await balance(conn, member, "stored_value") == sv_before - 50_000
    assert await balance(conn, member, "points") == pts_before - 1_000 + result.points_earned


async def test_spending_more_than_the_balance_refuses_everything(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    member = shop.members["QR-QL-0002"]  # no stored value
    t = await shop.issue(conn, member_id=member)
    card = tender("card", t.total - 100)
    with pytest.raises(AppError) as info:
        await service.settle(conn, shop.who(), checkout([t], card, tender("stored_value", 100)), pay, CONFIG)
    assert info.value.code == "insufficient_balance"
    assert (await tickets.get_ticket(conn, shop.store_id, t.id)).state == "issued"
    given_back = await conn.fetchval("SELECT refunded FROM payment WHERE id = $1", card.id)
    assert given_back == t.total - 100


async def test_member_tenders_need_a_member_and_tickets_of_one_member(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    t = await shop.issue(conn)
    with pytest.raises(AppError) as info:
        await service.settle(conn, shop.who(), checkout([t], tender("ecoin", t.total)), pay, CONFIG)
    assert info.value.code == CheckoutCodes.TENDER_NEEDS_MEMBER
    m1 = await shop.issue(conn, member_id=shop.members["QR-ZM-0001"])
    m2 = await shop.issue(conn, "huawei", member_id=shop.members["QR-SL-0003"])
    with pytest.raises(AppError) as info:
        await service.settle(conn, shop.who(), checkout([m1, m2], tender("cash", m1.total + m2.total)), pay, CONFIG)
    assert info.value.code == CheckoutCodes.MIXED_MEMBERS


async def test_a_changed_total_is_refused_before_charging(conn: asyncpg.Connection, shop: Shop, pay: Payments) -> None:
    t = await shop.issue(conn)
    card = tender("card", t.total)
    req = msgspec.structs.replace(checkout([t], card), expected_total=t.total - 1)
    with pytest.raises(AppError) as info:
        await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert info.value.code == CheckoutCodes.TOTAL_CHANGED
    assert await charges_at_acquirer(conn, card.id) == 0


async def test_customer_tickets_from_one_scan_or_the_member_code(conn: asyncpg.Connection, shop: Shop) -> None:
    member = shop.members["QR-SL-0003"]
    a = await shop.issue(conn, "apple", member_id=member)
    h = await shop.issue(conn, "huawei", member_id=member)
    await shop.issue(conn, "huawei")  # somebody else's
    by_scan = await service.customer_tickets(conn, shop.store_id, ticket_id=h.id)
    by_code = await service.customer_tickets(conn, shop.store_id, member_code="QR-SL-0003")
    by_card = await service.customer_tickets(conn, shop.store_id, member_code="M0001003")
    for found in (by_scan, by_code, by_card):
        assert {t.id for t in found.tickets} == {a.id, h.id}
        assert found.total == a.total + h.total
        assert found.member_id == member


async def test_paid_tickets_cannot_be_voided_only_refunded(conn: asyncpg.Connection, shop: Shop, pay: Payments) -> None:
    t = await shop.issue(conn)
    await service.settle(conn, shop.who(), checkout([t], tender("cash", t.total)), pay, CONFIG)
    (result,), _ = await apply_commands(
        conn, shop.hh_apple, [VoidTicket(command_id=new_id(), device_seq=50, ticket_id=t.id)]
    )
    assert result.status == "rejected"
    assert result.error is not None
    assert result.error.code == TicketCodes.WRONG_STATE
