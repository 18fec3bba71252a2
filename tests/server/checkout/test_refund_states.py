"""A refund changes the ticket's state (partly_refunded, refunded) with an event in the store's log;
fully refunded tickets are refused, partly refunded ones take further returns and can still be released."""

from __future__ import annotations

import itertools
import uuid

import asyncpg
import pytest

from protocol.checkout import CheckoutCodes, CheckoutResult, RefundLineRequest, RefundRequest
from protocol.ids import new_id
from protocol.ticket_codes import TicketCodes
from protocol.tickets import ReleaseTicket, Ticket
from server import events
from server.checkout import refunds, service
from server.checkout.service import Payments
from server.errors import AppError
from server.settings import Settings
from server.sync.service import apply_commands
from server.tickets import service as tickets
from tests.server.checkout.conftest import CONFIG, Shop, checkout, tender

_seq = itertools.count(1000)


def lines_back(t: Ticket, *line_qty: tuple[int, int], paid: CheckoutResult) -> RefundRequest:
    return RefundRequest(
        id=new_id(),
        checkout_id=paid.id,
        lines=[RefundLineRequest(ticket_id=t.id, line_no=n, qty=q) for n, q in line_qty],
    )


async def paid_ticket(conn: asyncpg.Connection, shop: Shop, pay: Payments) -> tuple[Ticket, CheckoutResult]:
    t = await shop.issue(conn, lines=2, qty=2)
    return t, await service.settle(conn, shop.who(), checkout([t], tender("cash", t.total)), pay, CONFIG)


async def state_events(conn: asyncpg.Connection, shop: Shop, ticket_id: uuid.UUID, after: int) -> list[str]:
    return [
        f"{e.kind}:{e.ticket.state}"
        for e in await events.read_after(conn, shop.store_id, after)
        if e.ticket.id == ticket_id
    ]


async def release(conn: asyncpg.Connection, shop: Shop, ticket_id: uuid.UUID) -> str:
    cmd = ReleaseTicket(command_id=new_id(), device_seq=next(_seq), ticket_id=ticket_id)
    (result,), _ = await apply_commands(conn, shop.hh_apple, [cmd])
    return result.status if result.error is None else result.error.code


async def test_line_refunds_move_the_ticket_to_partly_refunded_then_refunded_with_one_event_each(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_ticket(conn, shop, pay)
    start = await events.head(conn, shop.store_id)
    await refunds.refund(conn, shop.who(), lines_back(t, (1, 1), paid=paid), pay, CONFIG, settings)
    assert (await tickets.get_ticket(conn, shop.store_id, t.id)).state == "partly_refunded"
    # a partly refunded ticket takes further line refunds; the state stays, so no new event
    await refunds.refund(conn, shop.who(), lines_back(t, (1, 1), paid=paid), pay, CONFIG, settings)
    assert (await tickets.get_ticket(conn, shop.store_id, t.id)).state == "partly_refunded"
    await refunds.refund(conn, shop.who(), lines_back(t, (2, 2), paid=paid), pay, CONFIG, settings)
    assert (await tickets.get_ticket(conn, shop.store_id, t.id)).state == "refunded"
    assert await state_events(conn, shop, t.id, start) == [
        "ticket_partly_refunded:partly_refunded",
        "ticket_refunded:refunded",
    ]
    # the ticket is the same ticket in the events: lines, checkout and member as paid
    (last,) = [e for e in await events.read_after(conn, shop.store_id, start) if e.kind == "ticket_refunded"]
    assert (last.ticket.lines, last.ticket.checkout_id) == (t.lines, paid.id)


async def test_a_fully_refunded_ticket_is_refused_with_its_own_code(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_ticket(conn, shop, pay)
    whole = RefundRequest(id=new_id(), checkout_id=paid.id, ticket_ids=[t.id])
    await refunds.refund(conn, shop.who(), whole, pay, CONFIG, settings)
    assert (await tickets.get_ticket(conn, shop.store_id, t.id)).state == "refunded"
    for again in (
        RefundRequest(id=new_id(), checkout_id=paid.id, ticket_ids=[t.id]),
        lines_back(t, (1, 1), paid=paid),
    ):
        with pytest.raises(AppError) as info:
            await refunds.refund(conn, shop.who(), again, pay, CONFIG, settings)
        assert info.value.code == CheckoutCodes.TICKET_REFUNDED
        assert info.value.status == 409
        assert t.number in info.value.message
    # nor can it be paid again
    with pytest.raises(AppError) as info:
        await service.settle(conn, shop.who(), checkout([t], tender("cash", t.total)), pay, CONFIG)
    assert info.value.code == CheckoutCodes.TICKET_ALREADY_IN_CHECKOUT


async def test_refunding_one_ticket_of_a_checkout_leaves_the_other_paid(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    a, b = await shop.issue(conn, "apple"), await shop.issue(conn, "huawei")
    paid = await service.settle(conn, shop.who(), checkout([a, b], tender("cash", a.total + b.total)), pay, CONFIG)
    await refunds.refund(
        conn, shop.who(), RefundRequest(id=new_id(), checkout_id=paid.id, ticket_ids=[b.id]), pay, CONFIG, settings
    )
    states = {t: (await tickets.get_ticket(conn, shop.store_id, t)).state for t in (a.id, b.id)}
    assert states == {a.id: "paid", b.id: "refunded"}


async def test_goods_released_then_returned_stay_marked_released_and_cannot_be_released_again(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_ticket(conn, shop, pay)
    assert await release(conn, shop, t.id) == "applied"
    await refunds.refund(conn, shop.who(), lines_back(t, (1, 2), paid=paid), pay, CONFIG, settings)
    now = await tickets.get_ticket(conn, shop.store_id, t.id)
    assert (now.state, now.released) == ("partly_refunded", True)
    assert await release(conn, shop, t.id) == TicketCodes.WRONG_STATE
    await refunds.refund(conn, shop.who(), lines_back(t, (2, 2), paid=paid), pay, CONFIG, settings)
    now = await tickets.get_ticket(conn, shop.store_id, t.id)
    assert (now.state, now.released) == ("refunded", True)
    assert await release(conn, shop, t.id) == TicketCodes.WRONG_STATE


async def test_a_ticket_partly_refunded_before_release_still_releases_the_rest_once(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t, paid = await paid_ticket(conn, shop, pay)
    await refunds.refund(conn, shop.who(), lines_back(t, (1, 2), paid=paid), pay, CONFIG, settings)
    assert await release(conn, shop, t.id) == "applied"
    now = await tickets.get_ticket(conn, shop.store_id, t.id)
    assert (now.state, now.released) == ("released", True)
    assert await release(conn, shop, t.id) == TicketCodes.WRONG_STATE
    # the rest comes back later: refunded, and the goods are still known to have left
    await refunds.refund(conn, shop.who(), lines_back(t, (2, 2), paid=paid), pay, CONFIG, settings)
    now = await tickets.get_ticket(conn, shop.store_id, t.id)
    assert (now.state, now.released) == ("refunded", True)


async def test_the_database_refuses_states_outside_the_lifecycle(conn: asyncpg.Connection, shop: Shop) -> None:
    t = await shop.issue(conn)
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("UPDATE ticket SET state = 'returned' WHERE id = $1", t.id)
    with pytest.raises(asyncpg.CheckViolationError):  # an issued ticket's goods cannot have left
        await conn.execute("UPDATE ticket SET released_at = now() WHERE id = $1", t.id)
