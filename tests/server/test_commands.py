"""Commands are applied exactly once: replays, reused ids, sequence numbers, batches, till uploads."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
import nacl.signing
import pytest
from litestar.testing import AsyncTestClient

from protocol.codec import encode
from protocol.ids import new_id
from protocol.qr import QrCodes, sign_ticket, verify_ticket
from protocol.ticket_codes import CommandCodes, TicketCodes
from protocol.tickets import AttachMember, BatchResult, CommandBatch, VoidTicket
from server.auth.guards import DeviceCaller
from server.demo import DemoInfo
from server.sync.service import apply_commands
from tests.ticket_helpers import Catalog, catalog, device, draft, give_key, issue, second_store

decode_batch = msgspec.json.Decoder(BatchResult).decode


@pytest.fixture
async def shop(conn: asyncpg.Connection, demo: DemoInfo) -> dict[str, Any]:
    hh, hh_token = await device(conn, "Handheld Apple 1")
    till, till_token = await device(conn, "Till 1")
    return {"cat": await catalog(conn), "hh": hh, "till": till, "hh_token": hh_token, "till_token": till_token}


async def upload(client: AsyncTestClient[Any], token: str, commands: list[Any]) -> BatchResult:
    r = await client.post(
        "/sync/commands",
        content=encode(CommandBatch(commands=commands)),
        headers={"Authorization": f"Device {token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    return decode_batch(r.content)


async def test_a_replay_answers_the_stored_result(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    cmd = issue(draft(cat), 1)
    first = await upload(client, shop["hh_token"], [cmd])
    (applied,) = first.results
    assert applied.status == "applied"
    assert first.last_applied_seq == 1
    again = await upload(client, shop["hh_token"], [cmd])
    (replayed,) = again.results
    assert replayed.status == "replayed"
    assert replayed.ticket == applied.ticket
    assert replayed.position == applied.position
    assert await conn.fetchval("SELECT count(*) FROM ticket") == 1
    assert await conn.fetchval("SELECT count(*) FROM event_log") == 1


async def test_same_id_different_content_is_refused_naming_the_field(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    cmd = issue(draft(cat, lines=3), 1)
    await upload(client, shop["hh_token"], [cmd])
    lines = list(cmd.ticket.lines)
    lines[2] = msgspec.structs.replace(lines[2], qty=2, line_total=lines[2].line_total * 2)
    changed = msgspec.structs.replace(
        cmd, ticket=msgspec.structs.replace(cmd.ticket, lines=lines, total=sum(ln.line_total for ln in lines))
    )
    (result,) = (await upload(client, shop["hh_token"], [changed])).results
    assert result.status == "rejected"
    assert result.error is not None
    assert result.error.code == CommandCodes.ID_REUSED
    assert result.error.details["field"] == "ticket.lines[2].line_total"
    # Same id, different kind of command.
    other = VoidTicket(command_id=cmd.command_id, device_seq=1, ticket_id=cmd.ticket.id)
    (result,) = (await upload(client, shop["hh_token"], [other])).results
    assert result.error is not None
    assert result.error.code == CommandCodes.ID_REUSED
    assert await conn.fetchval("SELECT state FROM ticket") == "issued"


async def test_one_bad_command_never_blocks_the_rest(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    good1, good2 = draft(cat), draft(cat)
    bad = msgspec.structs.replace(draft(cat), total=1)
    commands = [
        issue(good1, 1),
        issue(bad, 2),
        VoidTicket(command_id=new_id(), device_seq=3, ticket_id=new_id()),  # no such ticket
        issue(good2, 4),
        AttachMember(command_id=new_id(), device_seq=5, ticket_id=good1.id, member_id=new_id()),
    ]
    batch = await upload(client, shop["hh_token"], commands)
    assert [r.status for r in batch.results] == ["applied", "rejected", "rejected", "applied", "applied"]
    assert [r.error.code for r in batch.results if r.error] == [TicketCodes.TOTALS_MISMATCH, "not_found"]
    assert batch.last_applied_seq == 5
    # A refused command is refused again the same way (it goes to the device's dead letters).
    again = await upload(client, shop["hh_token"], commands)
    assert [r.status for r in again.results] == ["replayed", "rejected", "rejected", "replayed", "replayed"]
    assert again.results[1].error == batch.results[1].error
    assert await conn.fetchval("SELECT count(*) FROM ticket") == 2
    assert await conn.fetchval("SELECT count(*) FROM applied_command") == 5


async def test_a_sequence_number_belongs_to_one_command(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    await upload(client, shop["hh_token"], [issue(draft(cat), 1)])
    (result,) = (await upload(client, shop["hh_token"], [issue(draft(cat), 1)])).results
    assert result.error is not None
    assert result.error.code == CommandCodes.SEQ_REUSED
    assert result.error.details["device_seq"] == 1
    assert await conn.fetchval("SELECT count(*) FROM ticket") == 1
    # Gaps are allowed (and visible as the highest applied number).
    batch = await upload(client, shop["hh_token"], [issue(draft(cat), 7)])
    assert batch.last_applied_seq == 7
    assert (
        await conn.fetchval("SELECT last_applied_seq FROM device_sync WHERE device_id = $1", shop["hh"].device_id) == 7
    )


async def test_till_upload_from_qr_then_the_handhelds_own_upload_is_a_replay(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    hh: DeviceCaller = shop["hh"]
    seed = await give_key(conn, hh.device_id)
    own = issue(draft(cat, lines=3), 5)
    qr = sign_ticket(own, hh.device_id, seed)
    # The till scanned the customer's QR while the handheld was offline and uploads what it decoded.
    scanned = verify_ticket(qr, {hh.device_id: bytes(nacl.signing.SigningKey(seed).verify_key)}.get).command
    (uploaded,) = (await upload(client, shop["till_token"], [msgspec.structs.replace(scanned, scanned_qr=qr)])).results
    assert uploaded.status == "applied", uploaded.error
    assert uploaded.ticket is not None
    assert uploaded.ticket.device_id == hh.device_id
    assert [ln.sku for ln in uploaded.ticket.lines] == [ln.sku for ln in own.ticket.lines]  # filled from the catalog
    # Uploading the same QR again, and the handheld's own command when it is back online, are replays.
    (again,) = (await upload(client, shop["till_token"], [msgspec.structs.replace(scanned, scanned_qr=qr)])).results
    assert again.status == "replayed"
    batch = await upload(client, shop["hh_token"], [own])
    assert batch.results[0].status == "replayed"
    assert batch.results[0].ticket == uploaded.ticket
    assert batch.last_applied_seq == 5  # the handheld's sequence number, applied through the till
    assert await conn.fetchval("SELECT count(*) FROM event_log") == 1
    assert await conn.fetchval("SELECT uploaded_by FROM ticket") == shop["till"].device_id


async def test_a_tampered_or_foreign_qr_is_refused(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    hh: DeviceCaller = shop["hh"]
    seed = await give_key(conn, hh.device_id)
    cmd = issue(draft(cat), 1)
    qr = sign_ticket(cmd, hh.device_id, seed)
    digits = list(qr)
    digits[-200] = "1" if digits[-200] != "1" else "2"  # one changed digit
    tampered = "".join(digits)
    (r,) = (await upload(client, shop["till_token"], [msgspec.structs.replace(cmd, scanned_qr=tampered)])).results
    assert r.error is not None
    assert r.error.code in (QrCodes.BAD_SIGNATURE, QrCodes.MALFORMED)
    stranger = sign_ticket(cmd, hh.device_id, bytes(nacl.signing.SigningKey.generate()))
    (r,) = (await upload(client, shop["till_token"], [msgspec.structs.replace(cmd, scanned_qr=stranger)])).results
    assert r.error is not None
    assert r.error.code == QrCodes.BAD_SIGNATURE
    # A handheld of another store is not a signer this store trusts.
    await second_store(conn)
    bj, _ = await device(conn, "Handheld BJ")
    bj_seed = await give_key(conn, bj.device_id)
    foreign = sign_ticket(cmd, bj.device_id, bj_seed)
    (r,) = (await upload(client, shop["till_token"], [msgspec.structs.replace(cmd, scanned_qr=foreign)])).results
    assert r.error is not None
    assert r.error.code == QrCodes.UNKNOWN_DEVICE
    # A till may not upload a ticket without its QR, nor a command the QR does not carry.
    (r,) = (await upload(client, shop["till_token"], [issue(draft(cat), 1)])).results
    assert r.error is not None
    assert r.error.details["field"] == "scanned_qr"
    (r,) = (await upload(client, shop["till_token"], [issue(cmd.ticket, 1)])).results
    assert r.error is not None
    (r,) = (
        await upload(client, shop["till_token"], [msgspec.structs.replace(issue(cmd.ticket, 1), scanned_qr=qr)])
    ).results
    assert r.error is not None
    assert r.error.details["field"] == "command_id"
    assert await conn.fetchval("SELECT count(*) FROM ticket") == 0


async def test_a_second_upload_of_the_same_ticket_with_other_content_is_refused(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    d = draft(cat)
    (first,) = (await upload(client, shop["hh_token"], [issue(d, 1)])).results
    assert first.status == "applied"
    # A new command for the same ticket with identical content is a replay of the ticket ...
    (same,) = (await upload(client, shop["hh_token"], [issue(d, 2)])).results
    assert same.status == "replayed"
    assert same.ticket == first.ticket
    # ... with different content it is refused, naming the field.
    (clash,) = (
        await upload(client, shop["hh_token"], [issue(msgspec.structs.replace(d, staff_id=new_id()), 3)])
    ).results
    assert clash.error is not None
    assert clash.error.code == TicketCodes.ID_REUSED
    assert clash.error.details["field"] == "ticket.staff_id"
    assert await conn.fetchval("SELECT count(*) FROM event_log") == 1


async def test_the_same_command_sent_concurrently_applies_once(db_dsn: str, shop: dict[str, Any]) -> None:
    cat: Catalog = shop["cat"]
    cmd = issue(draft(cat), 1)
    conns = [await asyncpg.connect(db_dsn) for _ in range(6)]
    try:
        outcomes = await asyncio.gather(*(apply_commands(c, shop["hh"], [cmd]) for c in conns))
        statuses = sorted(results[0].status for results, _ in outcomes)
        assert statuses == ["applied"] + ["replayed"] * 5
        assert await conns[0].fetchval("SELECT count(*) FROM event_log") == 1
    finally:
        for c in conns:
            await c.close()


async def test_a_big_outbox_uploads_in_one_request(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    commands = [issue(draft(cat, lines=3), seq) for seq in range(1, 301)]
    batch = await upload(client, shop["hh_token"], commands)
    assert {r.status for r in batch.results} == {"applied"}
    assert batch.last_applied_seq == 300
    positions = [r.position for r in batch.results]
    assert positions == list(range(1, 301))
    too_many = [VoidTicket(command_id=new_id(), device_seq=i, ticket_id=new_id()) for i in range(1, 5002)]
    r = await client.post(
        "/sync/commands",
        content=encode(CommandBatch(commands=too_many)),
        headers={"Authorization": f"Device {shop['hh_token']}", "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["code"] == CommandCodes.BATCH_TOO_LARGE
    assert await conn.fetchval("SELECT count(*) FROM applied_command") == 300


async def test_commands_need_an_active_device_of_the_store(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    r = await client.post("/sync/commands", content=encode(CommandBatch(commands=[])))
    assert r.status_code == 401
    await conn.execute("UPDATE device SET state = 'revoked' WHERE id = $1", shop["hh"].device_id)
    r = await client.post(
        "/sync/commands",
        content=encode(CommandBatch(commands=[issue(draft(cat), 1)])),
        headers={"Authorization": f"Device {shop['hh_token']}"},
    )
    assert r.status_code == 401
    assert r.json()["code"] == "device_revoked"
    r = await client.post(
        "/sync/commands",
        content=b'{"commands": [{"kind": "teleport_ticket", "command_id": "x"}]}',
        headers={"Authorization": f"Device {shop['till_token']}"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == "validation_failed"
    assert await conn.fetchval("SELECT count(*) FROM applied_command") == 0


async def test_a_database_failure_in_one_command_fails_only_that_command(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat: Catalog = shop["cat"]
    # A fault we can aim: the database refuses a line named "boom" (as a broken disk or bug would).
    await conn.execute(
        """
        CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.name = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER boom BEFORE INSERT ON ticket_line FOR EACH ROW EXECUTE FUNCTION boom();
        """
    )
    bad = draft(cat)
    bad = msgspec.structs.replace(bad, lines=[msgspec.structs.replace(bad.lines[0], name="boom"), *bad.lines[1:]])
    taken = draft(cat, number="SH01-C-APL-H1-424242")
    commands = [
        issue(draft(cat), 1),
        issue(bad, 2),
        issue(draft(cat), 3),
        issue(taken, 4),
        issue(draft(cat, number=taken.number), 5),
    ]
    batch = await upload(client, shop["hh_token"], commands)
    assert [r.status for r in batch.results] == ["applied", "rejected", "applied", "applied", "rejected"]
    assert batch.results[1].error is not None
    assert batch.results[1].error.code == CommandCodes.FAILED
    assert batch.results[4].error is not None
    assert batch.results[4].error.code == TicketCodes.NUMBER_TAKEN
    assert [r.position for r in batch.results if r.status == "applied"] == [1, 2, 3]  # no gap from the failure
    # The failed command was not stored: once the fault is gone, sending it again applies it.
    await conn.execute("DROP TRIGGER boom ON ticket_line")
    (again,) = (await upload(client, shop["hh_token"], [commands[1]])).results
    assert again.status == "applied"
