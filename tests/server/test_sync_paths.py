"""The set-based way of applying commands gives exactly what applying them one by one gives: the same
answers, the same rows, the same event positions; and a command the database can never store is
dead-lettered instead of being retried forever."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from protocol.codec import encode
from protocol.ids import new_id
from protocol.ticket_codes import CommandCodes, TicketCodes
from protocol.tickets import AnyCommand, AttachMember, BatchResult, CommandBatch, TicketLine, VoidTicket
from server.auth.guards import DeviceCaller
from server.demo import DemoInfo
from server.sync import service
from tests.ticket_helpers import Catalog, catalog, device, draft, issue, second_store

decode_batch = msgspec.json.Decoder(BatchResult).decode

# Everything the commands write, except clocks.
SNAPSHOT = {
    "tickets": """SELECT id, store_id, counter_id, device_id, staff_id, number, total, currency, member_id, state,
                  issued_at_ms, business_day, checkout_id, void_reason, issue_command_id, uploaded_by
                  FROM ticket ORDER BY id""",
    "lines": "SELECT * FROM ticket_line ORDER BY ticket_id, line_no",
    "events": "SELECT store_id, position, kind, ticket_id, payload::text FROM event_log ORDER BY store_id, position",
    "commands": """SELECT command_id, device_id, store_id, device_seq, kind, content_hash, content::text, status,
                   result::text FROM applied_command ORDER BY command_id""",
    "sync": "SELECT device_id, last_applied_seq FROM device_sync ORDER BY device_id",
    "counters": "SELECT store_id, last_position FROM event_counter ORDER BY store_id",
}


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in SNAPSHOT.items()}


async def both_ways(
    conn: asyncpg.Connection, hh: DeviceCaller, commands: list[AnyCommand]
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Apply ``commands`` set-based and one by one, each from the same starting state (rolled back after)."""
    outcomes = []
    for set_based in (True, False):
        tx = conn.transaction()
        await tx.start()
        try:
            results, last = await service.apply_commands(conn, hh, commands, set_based=set_based)
            outcomes.append((results, last, await snapshot(conn)))
        finally:
            await tx.rollback()
    return outcomes[0], outcomes[1]


@pytest.fixture
async def shop(conn: asyncpg.Connection, demo: DemoInfo) -> dict[str, Any]:
    hh, _ = await device(conn, "Handheld Apple 1")
    other_hh, _ = await device(conn, "Handheld Huawei 1")
    return {
        "cat": await catalog(conn),
        "huawei": await catalog(conn, "C-HUA"),
        "hh": hh,
        "other_hh": other_hh,
    }


def _mixed(shop: dict[str, Any], beijing: Catalog, a: AnyCommand) -> list[AnyCommand]:
    """A batch with every kind of outcome, in an order where later commands depend on earlier ones."""
    cat: Catalog = shop["cat"]
    assert isinstance(a, type(issue(draft(cat), 1)))
    b = issue(draft(cat, lines=3), 3)
    c, e = draft(cat), draft(cat)
    twin = draft(cat)
    bad_totals = msgspec.structs.replace(draft(cat), total=1)
    other_store_line = TicketLine(
        line_no=1,
        product_id=beijing.products[0]["id"],
        sku=beijing.products[0]["sku"],
        name="x",
        qty=1,
        list_price=599900,
        unit_price=599900,
        line_total=599900,
    )
    other_store = msgspec.structs.replace(draft(cat, lines=1), lines=[other_store_line], total=599900)
    other_counter = draft(shop["huawei"], lines=1)
    other_counter = msgspec.structs.replace(other_counter, counter_id=cat.counter_id)
    wrong_sku = draft(cat, lines=1)
    wrong_sku = msgspec.structs.replace(wrong_sku, lines=[msgspec.structs.replace(wrong_sku.lines[0], sku="NOPE")])
    duplicate_line = draft(cat, lines=2)
    duplicate_line = msgspec.structs.replace(
        duplicate_line, lines=[duplicate_line.lines[0], msgspec.structs.replace(duplicate_line.lines[1], line_no=1)]
    )
    a_changed = msgspec.structs.replace(a, ticket=msgspec.structs.replace(a.ticket, staff_id=new_id()))
    return [
        a,  # a replay of a stored command
        a_changed,  # the same command id with other content
        issue(draft(cat), 1),  # a new command reusing a stored sequence number
        b,
        issue(bad_totals, 4),  # refused and stored
        issue(other_store, 5),
        issue(other_counter, 6),
        issue(wrong_sku, 7),
        issue(duplicate_line, 8),
        issue(msgspec.structs.replace(draft(cat), lines=[], total=0), 9),
        issue(msgspec.structs.replace(draft(cat), currency="USD"), 10),
        issue(msgspec.structs.replace(draft(cat), counter_id=new_id()), 11),
        issue(msgspec.structs.replace(draft(cat), store_id=beijing.store_id), 12),
        issue(msgspec.structs.replace(draft(cat), device_id=shop["other_hh"].device_id), 13),
        issue(draft(cat, number=a.ticket.number), 14),  # number taken by a stored ticket
        issue(twin, 15),
        issue(draft(cat, number=twin.number), 16),  # number taken earlier in this batch
        b,  # the same command again within the batch
        issue(draft(cat), 3),  # a sequence number taken earlier in this batch
        VoidTicket(command_id=new_id(), device_seq=17, ticket_id=b.ticket.id),  # per-command path, mid-batch
        issue(c, 18),
        AttachMember(command_id=new_id(), device_seq=19, ticket_id=c.id, member_id=new_id()),
        issue(e, 20),  # set-based again after the per-command ones
        issue(a.ticket, 21),  # the same ticket under a new command: a replay of the ticket
        issue(msgspec.structs.replace(a.ticket, total=a.ticket.total + 1), 22),  # same ticket id, other content
        VoidTicket(command_id=new_id(), device_seq=23, ticket_id=new_id()),  # no such ticket
        issue(draft(cat), 25),  # a gap in the sequence numbers is allowed
    ]


@pytest.mark.parametrize("chunk", [service.CHUNK, 4])
async def test_set_based_and_one_by_one_give_the_same_answers_and_rows(
    conn: asyncpg.Connection,
    shop: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    chunk: int,
) -> None:
    monkeypatch.setattr(service, "CHUNK", chunk)
    hh: DeviceCaller = shop["hh"]
    beijing = await second_store(conn)
    a = issue(draft(shop["cat"]), 1)
    stored_rejection = issue(msgspec.structs.replace(draft(shop["cat"]), total=2), 2)
    await service.apply_commands(conn, hh, [a, stored_rejection])
    commands = [*_mixed(shop, beijing, a), stored_rejection]

    with caplog.at_level(logging.INFO, logger=service.log.name):
        (fast, fast_last, fast_rows), (slow, slow_last, slow_rows) = await both_ways(conn, hh, commands)
    assert not [r for r in caplog.records if "command by command after" in r.getMessage()]  # no fallback

    assert [r.status for r in fast] == [r.status for r in slow]
    for f, s in zip(fast, slow, strict=True):
        assert f == s, (f, s)
    assert fast_last == slow_last == 25
    assert fast_rows == slow_rows
    # The batch really exercised every outcome (not two equally empty answers).
    codes = [r.error.code if r.error else r.status for r in fast]
    for expected in (
        "replayed",
        "applied",
        CommandCodes.ID_REUSED,
        CommandCodes.SEQ_REUSED,
        TicketCodes.TOTALS_MISMATCH,
        TicketCodes.PRODUCT_MISMATCH,
        TicketCodes.DUPLICATE_LINE,
        TicketCodes.EMPTY,
        TicketCodes.CURRENCY_MISMATCH,
        TicketCodes.NUMBER_TAKEN,
        TicketCodes.ID_REUSED,
        "not_found",
        "forbidden",
    ):
        assert expected in codes, expected
    positions = [r.position for r in fast if r.status == "applied" and r.position is not None]
    assert positions == list(range(2, 2 + len(positions)))  # after the stored ticket's 1, in command order


async def test_a_big_upload_goes_set_based_with_few_round_trips(conn: asyncpg.Connection, shop: dict[str, Any]) -> None:
    hh: DeviceCaller = shop["hh"]
    commands: list[AnyCommand] = [issue(draft(shop["cat"], lines=3), seq) for seq in range(2, 2 * service.CHUNK + 2)]
    await service.apply_commands(conn, hh, [issue(draft(shop["cat"]), 1)])  # the driver learns the types once
    queries: list[str] = []
    conn.add_query_logger(lambda q: queries.append(q.query))
    results, last = await service.apply_commands(conn, hh, commands)
    assert {r.status for r in results} == {"applied"}
    assert last == 2 * service.CHUNK + 1
    # BEGIN, keys, read (and row locks), write, events (the store's counter), COMMIT per chunk: the cost
    # does not grow with the chunk's size.
    await asyncio.sleep(0.05)  # the driver reports queries from a callback
    assert len(queries) == 2 * 6, [q.split("\n")[:2] for q in queries]
    assert [r.position for r in results] == list(range(2, 2 * service.CHUNK + 2))
    again, _ = await service.apply_commands(conn, hh, commands)
    assert [r.status for r in again] == ["replayed"] * len(commands)
    assert [r.ticket for r in again] == [r.ticket for r in results]
    assert await conn.fetchval("SELECT count(*) FROM ticket_line") == 3 * len(commands) + 2


def _upload(client: AsyncTestClient[Any], token: str, commands: list[AnyCommand]) -> Any:
    return client.post(
        "/sync/commands",
        content=encode(CommandBatch(commands=commands)),
        headers={"Authorization": f"Device {token}", "Content-Type": "application/json"},
    )


async def test_a_command_the_database_can_never_store_is_dead_lettered(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, demo: DemoInfo
) -> None:
    cat = await catalog(conn)
    hh, token = await device(conn, "Handheld Apple 1")
    # A line number beyond what the column holds: valid JSON, never storable.
    huge = draft(cat, lines=1)
    huge = msgspec.structs.replace(huge, lines=[msgspec.structs.replace(huge.lines[0], line_no=2**31)])
    # A NUL character, which PostgreSQL text cannot hold (nor can the record of the refusal).
    nul = draft(cat, lines=1)
    nul = msgspec.structs.replace(nul, lines=[msgspec.structs.replace(nul.lines[0], name="bad\x00name")])
    commands = [issue(draft(cat), 1), issue(huge, 2), issue(nul, 3), issue(draft(cat), 4)]
    r = await _upload(client, token, commands)
    assert r.status_code == 200, r.text
    batch = decode_batch(r.content)
    assert [x.status for x in batch.results] == ["applied", "rejected", "rejected", "applied"]
    for refused in batch.results[1:3]:
        assert refused.error is not None
        assert refused.error.code == CommandCodes.UNSTORABLE
        assert refused.error.details["sqlstate"]
    assert [x.position for x in batch.results if x.status == "applied"] == [1, 2]  # no gap
    assert batch.last_applied_seq == 4
    # The out-of-range one is stored as a dead letter: sending it again answers the same refusal.
    assert await conn.fetchval("SELECT status FROM applied_command WHERE device_seq = 2") == "rejected"
    again = decode_batch((await _upload(client, token, commands)).content)
    assert [x.status for x in again.results] == ["replayed", "rejected", "rejected", "replayed"]
    assert again.results[1] == batch.results[1]
    assert again.results[2].error is not None
    assert again.results[2].error.code == CommandCodes.UNSTORABLE
    assert await conn.fetchval("SELECT count(*) FROM ticket") == 2
    assert await conn.fetchval("SELECT count(*) FROM event_log") == 2
    assert hh.device_id is not None


async def test_the_upload_is_decoded_once_and_still_documented_and_strict(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, demo: DemoInfo
) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    body = schema["paths"]["/sync/commands"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/CommandBatch")
    assert {"CommandBatch", "IssueTicket", "TicketDraft"} <= set(schema["components"]["schemas"])
    _, token = await device(conn, "Handheld Apple 1")
    cat = await catalog(conn)
    wire = msgspec.to_builtins(CommandBatch(commands=[issue(draft(cat), 1)]))
    wire["commands"][0]["ticket"]["total"] = str(wire["commands"][0]["ticket"]["total"])  # "100" is not 100
    r = await client.post("/sync/commands", json=wire, headers={"Authorization": f"Device {token}"})
    assert r.status_code == 400
    assert r.json()["code"] == "validation_failed"
    assert r.json()["details"]["field"] == "commands[0].ticket.total"
    assert await conn.fetchval("SELECT count(*) FROM applied_command") == 0


async def test_concurrent_big_uploads_apply_each_command_once_with_gap_free_positions(
    db_dsn: str, conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    hh: DeviceCaller = shop["hh"]
    huawei: DeviceCaller = shop["other_hh"]
    mine: list[AnyCommand] = [issue(draft(shop["cat"]), seq) for seq in range(1, 301)]
    theirs: list[AnyCommand] = [issue(draft(shop["huawei"]), seq) for seq in range(1, 301)]
    conns = [await asyncpg.connect(db_dsn) for _ in range(4)]
    try:
        outcomes = await asyncio.gather(
            service.apply_commands(conns[0], hh, mine),
            service.apply_commands(conns[1], hh, mine),  # the same outbox sent twice at once
            service.apply_commands(conns[2], huawei, theirs),
            service.apply_commands(conns[3], hh, mine[::-1]),  # and once more, backwards
        )
    finally:
        for c in conns:
            await c.close()
    for i in range(len(mine)):
        statuses = sorted(
            results[i if n != 3 else len(mine) - 1 - i].status for n, (results, _) in enumerate(outcomes) if n != 2
        )
        assert statuses == ["applied", "replayed", "replayed"], (i, statuses)
    assert {r.status for r in outcomes[2][0]} == {"applied"}
    positions = [r[0] for r in await conn.fetch("SELECT position FROM event_log ORDER BY position")]
    assert positions == list(range(1, 601))  # no gap, none twice
    assert await conn.fetchval("SELECT count(*) FROM ticket") == 600
    assert await conn.fetchval("SELECT count(*) FROM applied_command") == 600
    # One upload's tickets take positions in the order of its commands.
    assert [r.position for r in outcomes[2][0]] == sorted(r.position for r in outcomes[2][0] if r.position)
