"""A card charged on a till's standalone card terminal: recorded with its approval code and last four,
never charged through the provider, refunded on that terminal; anything else carrying a terminal
approval is refused before anything is written."""

from __future__ import annotations

import asyncpg
import msgspec
import pytest

from protocol.checkout import RefundLineRequest, RefundRequest, TenderRequest
from protocol.ids import new_id
from protocol.till import TillCodes
from server.checkout import refunds, service
from server.checkout.service import Payments
from server.errors import AppError
from server.settings import Settings
from tests.server.checkout.conftest import CONFIG, Shop, charges_at_acquirer, checkout, tender


def on_terminal(
    amount: int, ref: str | None = "A1B2C3", last4: str | None = "4242", kind: str = "card"
) -> TenderRequest:
    return msgspec.convert(
        {"id": str(new_id()), "kind": kind, "amount": amount, "terminal_ref": ref, "last4": last4}, TenderRequest
    )


async def test_a_terminal_card_is_recorded_not_charged_and_refunded_on_the_terminal(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    t = await shop.issue(conn, "apple", lines=1)
    card = on_terminal(t.total - 1_000)
    req = checkout([t], card, tender("cash", 1_000))
    result = await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert (result.tenders[0].payment_ref, result.tenders[0].masked) == ("terminal:A1B2C3", "**** 4242")
    assert "4242" in result.receipt_text
    assert await charges_at_acquirer(conn, card.id) == 0
    assert await conn.fetchval("SELECT count(*) FROM payment WHERE id = $1", card.id) == 0
    again = await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert again.replayed

    line = t.lines[0]
    refund = RefundRequest(
        id=new_id(), checkout_id=req.id, lines=[RefundLineRequest(ticket_id=t.id, line_no=line.line_no, qty=1)]
    )
    done = await refunds.refund(conn, shop.who(), refund, pay, CONFIG, settings)
    to_card = next(x for x in done.tenders if x.tender_id == card.id)
    assert (to_card.to, to_card.refund_ref, to_card.amount) == ("provider", "terminal:A1B2C3", t.total - 1_000)
    assert await conn.fetchval("SELECT count(*) FROM payment_refund WHERE payment_id = $1", card.id) == 0


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda total: on_terminal(total, kind="wallet"), TillCodes.TERMINAL_APPROVAL_NOT_CARD),
        (lambda total: on_terminal(total, last4=None), TillCodes.TERMINAL_APPROVAL_BAD),
        (lambda total: on_terminal(total, ref=None), TillCodes.TERMINAL_APPROVAL_BAD),
    ],
)
async def test_an_incomplete_or_misplaced_terminal_approval_is_refused(
    conn: asyncpg.Connection, shop: Shop, pay: Payments, make: object, code: str
) -> None:
    t = await shop.issue(conn, "apple", lines=1)
    req = checkout([t], make(t.total))  # type: ignore[operator]
    with pytest.raises(AppError) as refused:
        await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert refused.value.code == code
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", req.id) == 0
