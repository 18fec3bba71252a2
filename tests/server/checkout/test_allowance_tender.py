"""Member balances spent offline within the allowance the server granted the till: the checkout takes
them from that allowance (never the available balance), exactly once on replay, never beyond it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from protocol.checkout import TenderRequest
from protocol.ids import new_id
from protocol.members import AllowanceGrant
from protocol.till import TillCodes
from server.checkout import service
from server.checkout.service import Payments
from server.errors import AppError
from server.ledger import allowance
from tests.server.checkout.conftest import CONFIG, Shop, balance, checkout, tender

ZHAO = "QR-ZM-0001"  # 1,000.00 of stored value


def from_allowance(kind: str, amount: int, allowance_id: uuid.UUID) -> TenderRequest:
    return TenderRequest(id=new_id(), kind=kind, amount=amount, allowance_id=allowance_id)  # type: ignore[arg-type]


async def grant(conn: asyncpg.Connection, shop: Shop, member_id: uuid.UUID, amount: int) -> uuid.UUID:
    allowance_id = new_id()
    async with conn.transaction():
        await allowance.grant(
            conn,
            store_id=shop.store_id,
            device_id=shop.till.device_id,
            request=AllowanceGrant(
                allowance_id=allowance_id,
                member_id=member_id,
                kind="stored_value",
                amount=amount,
                expires_at=datetime.now(UTC) + timedelta(hours=8),
            ),
        )
    return allowance_id


async def spent(conn: asyncpg.Connection, allowance_id: uuid.UUID) -> int:
    return int(await conn.fetchval("SELECT captured FROM ledger_hold WHERE id = $1", allowance_id))


async def test_an_offline_spend_is_taken_from_the_allowance_once(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    member = shop.members[ZHAO]
    granted = await grant(conn, shop, member, 20_000)
    available = await balance(conn, member, "stored_value")
    t = await shop.issue(conn, "apple", member_id=member, lines=1)
    req = checkout([t], from_allowance("stored_value", 15_000, granted), tender("cash", t.total - 15_000))

    result = await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert result.tenders[0].applied == 15_000
    assert await spent(conn, granted) == 15_000
    assert await balance(conn, member, "stored_value") == available, "the available balance is not touched"
    again = await service.settle(conn, shop.who(), req, pay, CONFIG)
    assert again.replayed
    assert await spent(conn, granted) == 15_000, "a replay never spends twice"

    # Beyond what is left of the allowance: refused, and nothing of that checkout is written.
    t2 = await shop.issue(conn, "apple", member_id=member, lines=1)
    over = checkout([t2], from_allowance("stored_value", 5_001, granted), tender("cash", t2.total - 5_001))
    with pytest.raises(AppError) as refused:
        await service.settle(conn, shop.who(), over, pay, CONFIG)
    assert refused.value.code == "capture_exceeds_hold"
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", over.id) == 0
    assert await spent(conn, granted) == 15_000


async def test_an_allowance_of_another_kind_member_or_till_is_refused(
    conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    member = shop.members[ZHAO]
    granted = await grant(conn, shop, member, 20_000)
    t = await shop.issue(conn, "apple", member_id=member, lines=1)
    wrong_kind = checkout([t], from_allowance("ecoin", 1_000, granted), tender("cash", t.total - 1_000))
    with pytest.raises(AppError) as refused:
        await service.settle(conn, shop.who(), wrong_kind, pay, CONFIG)
    assert refused.value.code == TillCodes.ALLOWANCE_NOT_FOR_TENDER
    other_till = checkout([t], from_allowance("stored_value", 1_000, granted), tender("cash", t.total - 1_000))
    who = shop.who()
    elsewhere = type(who)(store_id=who.store_id, staff_id=who.staff_id, device_id=new_id(), shift_id=who.shift_id)
    with pytest.raises(AppError) as refused:
        await service.settle(conn, elsewhere, other_till, pay, CONFIG)
    assert refused.value.code == "not_found"
    assert await spent(conn, granted) == 0
