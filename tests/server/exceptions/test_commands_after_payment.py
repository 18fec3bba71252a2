"""A handheld's offline command refused because the customer paid for the ticket meanwhile is kept for the
manager: a void (were the goods handed over?) and attaching a member (who earned nothing), once per
command id and without money; a till that does not say which kinds it knows is not sent the new one."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from protocol.exceptions import FIRST_KINDS, StoreException
from protocol.ids import new_id
from protocol.tickets import AttachMember, Ticket
from server.settings import Settings
from server.sync.service import apply_commands
from tests.server.checkout.conftest import Shop, checkout, tender
from tests.server.exceptions.test_queue import as_staff, body

APPROVAL = {"staff_code": "V001", "pin": "4444"}


async def paid(api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop) -> Ticket:
    ticket = await shop.issue(conn)
    r = await api.post(
        "/checkouts",
        json=body(checkout([ticket], tender("card", ticket.total))),
        headers=await as_staff(conn, settings, "C001", shop),
    )
    assert r.status_code == 200, r.text
    return ticket


def attach(shop: Shop, ticket: Ticket) -> AttachMember:
    member = next(iter(shop.members.values()))
    seq = shop.seqs[shop.hh_apple.device_id]
    return AttachMember(
        command_id=new_id(), device_seq=next(seq), ticket_id=ticket.id, member_id=member, made_at_ms=1_700_000_000_000
    )


async def test_attaching_a_member_offline_to_a_ticket_paid_meanwhile_is_recorded_once_without_money(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    ticket = await paid(api, conn, settings, shop)
    cmd = attach(shop, ticket)
    for _ in range(2):  # the handheld uploads its outbox again: the stored refusal, no second exception
        (result,), _ = await apply_commands(conn, shop.hh_apple, [cmd])
        assert result.status == "rejected"
        assert result.error is not None
        assert result.error.code == "ticket_wrong_state"
    r = await api.get("/exceptions", headers=await as_staff(conn, settings, "V001"))
    [e] = [msgspec.convert(x, StoreException) for x in r.json()["exceptions"]]
    assert e.kind == "attach_after_payment"
    assert (e.command_id, e.device_id, e.ticket_numbers) == (cmd.command_id, shop.hh_apple.device_id, [ticket.number])
    assert (e.fix, e.taken, e.to_refund) == ([], {}, 0)
    assert ticket.number in e.fix_text["en"]
    assert "attach the purchase" in e.fix_text["en"]
    assert "补登积分" in e.fix_text["zh"]
    assert e.settled_offline_at_ms == 1_700_000_000_000
    assert await conn.fetchval("SELECT member_id FROM ticket WHERE id = $1", ticket.id) is None
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'exception.recorded'") == 1
    assert await conn.fetchval("SELECT count(*) FROM shift_movement WHERE reference LIKE 'exception:%'") == 0


async def test_attaching_to_an_open_ticket_or_refused_for_another_reason_records_nothing(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    ticket = await shop.issue(conn)
    (ok,), _ = await apply_commands(conn, shop.hh_apple, [attach(shop, ticket)])
    assert ok.status == "applied", ok.error
    other = list(shop.members.values())[1]
    seq = shop.seqs[shop.hh_apple.device_id]
    cmd = AttachMember(command_id=new_id(), device_seq=next(seq), ticket_id=ticket.id, member_id=other)
    (refused,), _ = await apply_commands(conn, shop.hh_apple, [cmd])
    assert refused.error is not None
    assert refused.error.code == "ticket_member_already_attached"
    assert await conn.fetchval("SELECT count(*) FROM store_exception") == 0


async def test_a_till_gets_only_the_kinds_it_says_it_knows(
    api: AsyncTestClient[Any], conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    ticket = await paid(api, conn, settings, shop)
    await apply_commands(conn, shop.hh_apple, [attach(shop, ticket)])
    till = await as_staff(conn, settings, "C001", shop)
    r = await api.post("/exceptions/queries", json={"approval": APPROVAL}, headers=till)
    assert r.status_code == 200, r.text
    assert (r.json()["exceptions"], r.json()["total"]) == ([], 0), "an older till could not decode the new kind"
    knows = [*FIRST_KINDS, "attach_after_payment"]
    r = await api.post("/exceptions/queries", json={"approval": APPROVAL, "kinds": knows}, headers=till)
    assert [x["kind"] for x in r.json()["exceptions"]] == ["attach_after_payment"]
    r = await api.get("/exceptions", headers=await as_staff(conn, settings, "M001"))
    assert r.json()["total"] == 1, "the manager sees every kind"
