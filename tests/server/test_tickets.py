"""Ticket lifecycle, totals, store ownership, member attach, checkout hooks, expiry and staff reads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from protocol.ids import new_id
from protocol.ticket_codes import TicketCodes
from protocol.tickets import AttachMember, CommandResult, ReleaseTicket, VoidTicket
from server import events
from server.app import create_app
from server.auth.guards import DeviceCaller
from server.demo import DemoInfo
from server.errors import AppError
from server.settings import Settings
from server.sync.service import apply_commands
from server.tickets import service
from server.tickets.expiry import expire_due
from tests.auth_helpers import bearer, token_for
from tests.ticket_helpers import Catalog, catalog, device, draft, issue, second_store


@pytest.fixture
async def shop(conn: asyncpg.Connection, demo: DemoInfo) -> tuple[Catalog, DeviceCaller, DeviceCaller]:
    hh, _ = await device(conn, "Handheld Apple 1")
    till, _ = await device(conn, "Till 1")
    return await catalog(conn), hh, till


async def one(conn: asyncpg.Connection, dev: DeviceCaller, cmd: Any) -> CommandResult:
    (result,), _ = await apply_commands(conn, dev, [cmd])
    return result


async def test_issue_stores_the_ticket_and_appends_an_event(conn: asyncpg.Connection, shop: Any) -> None:
    cat, hh, _ = shop
    d = draft(cat, lines=3, qty=2, discount=100)
    result = await one(conn, hh, issue(d, 1))
    assert result.status == "applied"
    assert result.ticket is not None
    assert result.ticket.state == "issued"
    assert result.ticket.device_id == hh.device_id
    assert result.ticket.total == d.total
    assert result.ticket.business_day  # the store's business day, server time
    assert result.position == 1
    (event,) = await events.read_after(conn, cat.store_id, 0, 10)
    assert event.kind == "ticket_issued"
    assert event.ticket == result.ticket
    stored = await service.get_ticket(conn, cat.store_id, d.id)
    assert stored == result.ticket


@pytest.mark.parametrize(
    ("broken", "details"),
    [
        ("line", {"line_no": 2}),
        ("total", {"field": "total"}),
    ],
)
async def test_totals_that_do_not_add_up_are_refused_naming_the_line(
    conn: asyncpg.Connection, shop: Any, broken: str, details: dict[str, Any]
) -> None:
    import msgspec

    cat, hh, _ = shop
    d = draft(cat, lines=3)
    if broken == "line":
        lines = list(d.lines)
        lines[1] = msgspec.structs.replace(lines[1], line_total=lines[1].line_total + 1)
        d = msgspec.structs.replace(d, lines=lines, total=d.total + 1)
    else:
        d = msgspec.structs.replace(d, total=d.total - 5)
    result = await one(conn, hh, issue(d, 1))
    assert result.status == "rejected"
    assert result.error is not None
    assert result.error.code == TicketCodes.TOTALS_MISMATCH
    assert details.items() <= result.error.details.items()
    assert await conn.fetchval("SELECT count(*) FROM ticket") == 0  # nothing partially written
    assert await conn.fetchval("SELECT count(*) FROM event_log") == 0


async def test_products_counters_and_stores_must_be_the_devices_own(conn: asyncpg.Connection, shop: Any) -> None:
    import msgspec

    cat, hh, _ = shop
    other = await second_store(conn)
    huawei = await catalog(conn, "C-HUA")
    foreign_product = msgspec.structs.replace(draft(cat), lines=draft(other, lines=1).lines)
    foreign_product = msgspec.structs.replace(foreign_product, total=foreign_product.lines[0].line_total)
    cases = {
        "another store": (draft(other), "not_found"),
        "another store's counter": (msgspec.structs.replace(draft(cat), counter_id=other.counter_id), "not_found"),
        "another store's product": (foreign_product, TicketCodes.PRODUCT_MISMATCH),
        "another counter's product": (
            msgspec.structs.replace(draft(huawei), counter_id=cat.counter_id),
            TicketCodes.PRODUCT_MISMATCH,
        ),
    }
    for seq, (name, (d, code)) in enumerate(cases.items(), start=1):
        result = await one(conn, hh, issue(d, seq))
        assert result.status == "rejected", name
        assert result.error is not None
        assert result.error.code == code, name
    assert await conn.fetchval("SELECT count(*) FROM ticket") == 0


async def test_lifecycle_allows_only_its_transitions(conn: asyncpg.Connection, shop: Any) -> None:
    cat, hh, till = shop
    a, b = draft(cat), draft(cat)
    assert (await one(conn, hh, issue(a, 1))).status == "applied"
    assert (await one(conn, hh, issue(b, 2))).status == "applied"

    # issued -> released is not a transition
    r = await one(conn, hh, ReleaseTicket(command_id=new_id(), device_seq=3, ticket_id=a.id))
    assert r.error is not None
    assert r.error.code == TicketCodes.WRONG_STATE
    assert r.error.details["state"] == "issued"

    # issued -> paid (checkout) -> released
    async with conn.transaction():
        paid = await service.mark_paid(conn, cat.store_id, [a.id], new_id())
    assert [t.state for t in paid] == ["paid"]
    r = await one(conn, hh, ReleaseTicket(command_id=new_id(), device_seq=4, ticket_id=a.id))
    assert r.status == "applied"
    assert r.ticket is not None
    assert r.ticket.state == "released"

    # released -> voided, issued -> voided -> voided
    r = await one(conn, hh, VoidTicket(command_id=new_id(), device_seq=5, ticket_id=a.id))
    assert r.error is not None
    assert r.error.details["state"] == "released"
    r = await one(conn, till, VoidTicket(command_id=new_id(), device_seq=1, ticket_id=b.id, reason="customer left"))
    assert r.status == "applied"
    r = await one(conn, hh, VoidTicket(command_id=new_id(), device_seq=6, ticket_id=b.id))
    assert r.error is not None
    assert r.error.code == TicketCodes.WRONG_STATE
    assert r.error.details["state"] == "voided"

    # voided -> paid
    with pytest.raises(AppError) as info:
        async with conn.transaction():
            await service.mark_paid(conn, cat.store_id, [b.id], new_id())
    assert info.value.code == TicketCodes.WRONG_STATE
    kinds = [e.kind for e in await events.read_after(conn, cat.store_id, 0, 100)]
    assert kinds == ["ticket_issued", "ticket_issued", "ticket_paid", "ticket_released", "ticket_voided"]


async def test_mark_paid_is_all_or_nothing(conn: asyncpg.Connection, shop: Any) -> None:
    cat, hh, _ = shop
    a, b = draft(cat), draft(cat)
    await one(conn, hh, issue(a, 1))
    await one(conn, hh, issue(b, 2))
    await one(conn, hh, VoidTicket(command_id=new_id(), device_seq=3, ticket_id=b.id))
    head = await events.head(conn, cat.store_id)
    with pytest.raises(AppError):
        async with conn.transaction():
            await service.mark_paid(conn, cat.store_id, [a.id, b.id], new_id())
    assert (await service.get_ticket(conn, cat.store_id, a.id)).state == "issued"
    assert await events.head(conn, cat.store_id) == head
    other = await second_store(conn)
    with pytest.raises(AppError) as info:
        async with conn.transaction():
            await service.mark_paid(conn, other.store_id, [a.id], new_id())
    assert info.value.code == "not_found"


async def test_member_attaches_after_issue_until_checkout(conn: asyncpg.Connection, shop: Any) -> None:
    cat, hh, till = shop
    member, stranger = new_id(), new_id()
    a, b, c = draft(cat), draft(cat, member_id=member), draft(cat)
    for seq, d in enumerate((a, b, c), start=1):
        await one(conn, hh, issue(d, seq))
    r = await one(conn, till, AttachMember(command_id=new_id(), device_seq=1, ticket_id=a.id, member_id=member))
    assert r.status == "applied"
    assert r.ticket is not None
    assert r.ticket.member_id == member
    r = await one(conn, till, AttachMember(command_id=new_id(), device_seq=2, ticket_id=a.id, member_id=stranger))
    assert r.error is not None
    assert r.error.code == TicketCodes.MEMBER_ALREADY_ATTACHED

    # Scanning any one of the member's tickets finds all of them; a ticket without member only itself.
    found = await service.open_tickets_for(conn, cat.store_id, ticket_id=a.id)
    assert {t.id for t in found} == {a.id, b.id}
    assert {t.id for t in await service.open_tickets_for(conn, cat.store_id, member_id=member)} == {a.id, b.id}
    assert [t.id for t in await service.open_tickets_for(conn, cat.store_id, ticket_id=c.id)] == [c.id]

    async with conn.transaction():
        await service.mark_paid(conn, cat.store_id, [a.id, b.id], new_id())
    r = await one(conn, till, AttachMember(command_id=new_id(), device_seq=3, ticket_id=c.id, member_id=member))
    assert r.status == "applied"
    assert [t.id for t in await service.open_tickets_for(conn, cat.store_id, member_id=member)] == [c.id]
    with pytest.raises(AppError) as info:
        await service.open_tickets_for(conn, cat.store_id, ticket_id=a.id)
    assert info.value.code == TicketCodes.WRONG_STATE
    r = await one(conn, till, AttachMember(command_id=new_id(), device_seq=4, ticket_id=a.id, member_id=member))
    assert r.error is not None
    assert r.error.details["state"] == "paid"


async def test_expiry_ends_the_business_day_per_store_and_is_idempotent(conn: asyncpg.Connection, shop: Any) -> None:
    cat, hh, _ = shop
    other = await second_store(conn, timezone="Europe/Paris", day_end="02:00")
    bj, _ = await device(conn, "Handheld BJ")
    old, fresh, paid = draft(cat), draft(cat), draft(cat)
    for seq, d in enumerate((old, fresh, paid), start=1):
        await one(conn, hh, issue(d, seq))
    late = draft(other)
    await one(conn, bj, issue(late, 1))
    # Shanghai ticket of 2026-03-01 (day ends 23:00 Shanghai = 15:00 UTC); Paris ticket of 2026-03-01
    # (late-night store, day ends 2026-03-02 02:00 Paris = 01:00 UTC).
    await conn.execute("UPDATE ticket SET business_day = '2026-03-01' WHERE id = ANY($1::uuid[])", [old.id, paid.id])
    await conn.execute("UPDATE ticket SET business_day = '2026-03-01' WHERE id = $1", late.id)
    await conn.execute("UPDATE ticket SET business_day = '2026-03-02' WHERE id = $1", fresh.id)
    async with conn.transaction():
        await service.mark_paid(conn, cat.store_id, [paid.id], new_id())

    assert await expire_due(conn, datetime(2026, 3, 1, 14, 59, tzinfo=UTC)) == 0
    assert await expire_due(conn, datetime(2026, 3, 1, 15, 0, tzinfo=UTC)) == 1  # only the old Shanghai one
    assert await expire_due(conn, datetime(2026, 3, 2, 0, 59, tzinfo=UTC)) == 0  # Paris still open
    assert await expire_due(conn, datetime(2026, 3, 2, 1, 0, tzinfo=UTC)) == 1
    assert await expire_due(conn, datetime(2026, 3, 2, 1, 0, tzinfo=UTC)) == 0  # idempotent
    states = dict(await conn.fetch("SELECT id, state FROM ticket"))
    assert states[old.id] == "expired"
    assert states[late.id] == "expired"
    assert states[fresh.id] == "issued"
    assert states[paid.id] == "paid"
    kinds = [e.kind for e in await events.read_after(conn, cat.store_id, 0, 100)]
    assert kinds.count("ticket_expired") == 1
    with pytest.raises(AppError) as info:
        async with conn.transaction():
            await service.mark_paid(conn, cat.store_id, [old.id], new_id())
    assert info.value.details["state"] == "expired"


async def test_expiry_runs_in_the_background(db_dsn: str, tmp_path: Any, conn: asyncpg.Connection, shop: Any) -> None:
    cat, hh, _ = shop
    d = draft(cat)
    await one(conn, hh, issue(d, 1))
    await conn.execute("UPDATE ticket SET business_day = current_date - 2 WHERE id = $1", d.id)
    settings = Settings(secret_key="s" * 40, data_dir=tmp_path, extra={"expiry_interval_s": "0.05"})
    async with AsyncTestClient(app=create_app(settings, dsn=db_dsn)):
        for _ in range(100):
            if await conn.fetchval("SELECT state FROM ticket WHERE id = $1", d.id) == "expired":
                break
            await asyncio.sleep(0.05)
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", d.id) == "expired"


async def test_staff_list_and_read_only_their_store(
    client: AsyncTestClient[Any], settings: Settings, conn: asyncpg.Connection, shop: Any
) -> None:
    cat, hh, _ = shop
    member = new_id()
    a, b, c = draft(cat, member_id=member), draft(cat), draft(cat, number="SH01-C-APL-H1-777001")
    for seq, d in enumerate((a, b, c), start=1):
        await one(conn, hh, issue(d, seq))
    await one(conn, hh, VoidTicket(command_id=new_id(), device_seq=4, ticket_id=b.id))
    other = await second_store(conn)
    bj, _ = await device(conn, "Handheld BJ")
    foreign = draft(other)
    await one(conn, bj, issue(foreign, 1))

    cashier = bearer(await token_for(conn, "C001", settings.secret_key))
    r = await client.get("/tickets", headers=cashier)
    assert r.status_code == 200
    assert {t["id"] for t in r.json()} == {str(a.id), str(c.id)}  # open ones, own store only
    r = await client.get("/tickets", params={"state": "voided"}, headers=cashier)
    assert [t["id"] for t in r.json()] == [str(b.id)]
    r = await client.get("/tickets", params={"member_id": str(member)}, headers=cashier)
    assert [t["id"] for t in r.json()] == [str(a.id)]
    r = await client.get("/tickets", params={"number": "SH01-C-APL-H1-777", "state": "all"}, headers=cashier)
    assert [t["id"] for t in r.json()] == [str(c.id)]
    r = await client.get(f"/tickets/{a.id}", headers=cashier)
    assert r.status_code == 200
    assert r.json()["lines"][0]["sku"] == a.lines[0].sku
    r = await client.get(f"/tickets/{foreign.id}", headers=cashier)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    r = await client.get("/tickets", params={"store_id": str(other.store_id)}, headers=cashier)
    assert r.status_code == 404
    assert (await client.get("/tickets")).status_code == 401
