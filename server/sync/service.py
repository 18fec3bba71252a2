"""Apply device commands exactly once.

Each command id gets exactly one outcome, stored forever with its content hash: a replay answers the
stored result (status ``replayed``), the same id with different content is refused naming the first
differing field. The per-device last applied sequence number is raised in the same transaction as the
effect. Each command runs in its own savepoint, so a refused or failing command never blocks the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from protocol.errors import Codes
from protocol.ticket_codes import CommandCodes
from protocol.tickets import (
    AnyCommand,
    AttachMember,
    CommandResult,
    IssueTicket,
    ReleaseTicket,
    VoidTicket,
)
from server.auth.guards import DeviceCaller
from server.errors import AppError, Unauthenticated
from server.sync import repository as repo
from server.sync import scanned
from server.tickets import service as tickets
from server.tickets.service import Outcome, comparable_draft, first_difference

log = logging.getLogger(__name__)

MAX_BATCH = 5000
CHUNK = 200
"""Commands per transaction: bounds how long one upload holds the store's event-log lock."""

Handler = Callable[[asyncpg.Connection, DeviceCaller, Any], Awaitable[Outcome]]
HANDLERS: dict[type, Handler] = {
    VoidTicket: tickets.void,
    AttachMember: tickets.attach_member,
    ReleaseTicket: tickets.release,
}

_result_dec = msgspec.json.Decoder(CommandResult)


def content_of(cmd: AnyCommand, issuer: uuid.UUID) -> tuple[str, bytes]:
    """Canonical JSON of a command (sorted keys) and its SHA-256.

    For ``IssueTicket`` it is what the ticket QR signs: the issuing device filled in, no ``scanned_qr``,
    and no line SKUs or names (catalog text a QR does not carry), so the handheld's own upload and a
    till's upload of the scanned QR of the same command are the same content.
    """
    content = msgspec.to_builtins(cmd)
    if isinstance(cmd, IssueTicket):
        content.pop("scanned_qr", None)
        content["ticket"] = comparable_draft(content["ticket"], issuer)
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text, hashlib.sha256(text.encode()).digest()


def refused(cmd: AnyCommand, code: str, message: str, **details: Any) -> CommandResult:
    return CommandResult(
        command_id=cmd.command_id,
        status="rejected",
        error=AppError(code, message, details=details).body(),
    )


async def apply_commands(
    conn: asyncpg.Connection, device: DeviceCaller, commands: Sequence[AnyCommand]
) -> tuple[list[CommandResult], int]:
    """Apply ``commands`` in order; return one result per command and the device's last applied seq."""
    if len(commands) > MAX_BATCH:
        raise AppError(
            CommandCodes.BATCH_TOO_LARGE,
            f"Send at most {MAX_BATCH} commands per upload; this one has {len(commands)}.",
            status=413,
            details={"max": MAX_BATCH, "given": len(commands)},
        )
    results: list[CommandResult] = []
    for start in range(0, len(commands), CHUNK):
        chunk = commands[start : start + CHUNK]
        try:
            async with conn.transaction():
                await _begin(conn, device)
                chunk_results = [await apply_one(conn, device, cmd) for cmd in chunk]
        except _Redo:
            # A database error inside one command spoils the whole transaction: redo the chunk with a
            # savepoint around each command, so only that command fails.
            async with conn.transaction():
                await _begin(conn, device)
                chunk_results = [await apply_one(conn, device, cmd, guarded=True) for cmd in chunk]
        results.extend(chunk_results)
    return results, int(await conn.fetchval(repo.LAST_SEQ, device.device_id))


class _Redo(Exception):
    """A database error on the fast path (no savepoints)."""


async def _begin(conn: asyncpg.Connection, device: DeviceCaller) -> None:
    """Take the store's event-log lock (first, see ``server.events``) and re-check the device."""
    if await conn.fetchval(repo.LOCK_STORE_AND_CHECK_DEVICE, device.store_id, device.device_id) != "active":
        raise Unauthenticated("This device has been revoked; ask a manager to enroll it again.", Codes.DEVICE_REVOKED)


async def apply_one(
    conn: asyncpg.Connection, device: DeviceCaller, cmd: AnyCommand, *, guarded: bool = False
) -> CommandResult:
    """Apply one command inside the caller's transaction (which holds the store lock).

    Handlers check everything before they write, so a refused command has written nothing and its
    refusal is recorded in the same transaction. Unguarded, a database error raises ``_Redo``; guarded,
    the command runs in a savepoint and such an error refuses only it (not stored, so a resend may
    apply it).

    A ticket a till scanned from the customer's QR (``IssueTicket.scanned_qr``) is verified against the
    issuing handheld's enrolled key and then applied as that handheld's own command: same command id,
    the handheld's sequence number, so the handheld's later upload of it is a replay.
    """
    try:
        return await _apply(conn, device, cmd, guarded)
    except asyncpg.PostgresError as exc:
        if not guarded:
            raise _Redo from exc
        log.warning("command %s failed: %s", cmd.command_id, exc)
        return refused(cmd, CommandCodes.FAILED, "The server could not apply this command now; it will be retried.")


async def _apply(conn: asyncpg.Connection, device: DeviceCaller, cmd: AnyCommand, guarded: bool) -> CommandResult:
    uploaded_by: uuid.UUID | None = None
    if isinstance(cmd, IssueTicket) and cmd.scanned_qr is not None:
        try:
            issuer, cmd = await scanned.resolve(conn, device, cmd)
        except AppError as exc:  # not the command the QR signed: nothing to store it under
            return CommandResult(command_id=cmd.command_id, status="rejected", error=exc.body())
        uploaded_by, device = device.device_id, issuer
    text, digest = content_of(cmd, device.device_id)
    row = await conn.fetchrow(repo.FIND, cmd.command_id, device.device_id, cmd.device_seq)
    if row is not None and row["command_id"] == cmd.command_id:
        return _again(row, device, cmd, text, digest)
    if row is not None:
        return refused(
            cmd,
            CommandCodes.SEQ_REUSED,
            f"Sequence number {cmd.device_seq} of this device already belongs to another command.",
            device_seq=cmd.device_seq,
            command_id=str(row["command_id"]),
        )
    savepoint = conn.transaction() if guarded else None
    if savepoint is not None:
        await savepoint.start()
    try:
        if isinstance(cmd, IssueTicket):
            outcome = await tickets.issue(conn, device, cmd, uploaded_by=uploaded_by)
        else:
            outcome = await HANDLERS[type(cmd)](conn, device, cmd)
        result = CommandResult(
            command_id=cmd.command_id,
            status="replayed" if outcome.replayed else "applied",
            ticket=outcome.ticket,
            position=outcome.position,
        )
        await _record(conn, device, cmd, text, digest, result)
    except AppError as exc:
        if savepoint is not None:
            await savepoint.rollback()
            savepoint = None
        result = CommandResult(command_id=cmd.command_id, status="rejected", error=exc.body())
        await _record(conn, device, cmd, text, digest, result)
    except BaseException:
        if savepoint is not None:
            await savepoint.rollback()
        raise
    if savepoint is not None:
        await savepoint.commit()
    return result


def _again(row: asyncpg.Record, device: DeviceCaller, cmd: AnyCommand, text: str, digest: bytes) -> CommandResult:
    if row["device_id"] != device.device_id:
        return refused(
            cmd,
            CommandCodes.ID_REUSED,
            "This command id was already used by another device; make a new command.",
            field="device",
            command_id=str(cmd.command_id),
        )
    if bytes(row["content_hash"]) != digest:
        field = first_difference(json.loads(row["content"]), json.loads(text)) or "(content)"
        return refused(
            cmd,
            CommandCodes.ID_REUSED,
            f"This command id was already used with a different {field}; make a new command.",
            field=field,
            command_id=str(cmd.command_id),
        )
    stored = _result_dec.decode(row["result"])
    if stored.status == "rejected":
        return stored
    return msgspec.structs.replace(stored, status="replayed")


async def _record(
    conn: asyncpg.Connection, device: DeviceCaller, cmd: AnyCommand, text: str, digest: bytes, result: CommandResult
) -> None:
    await conn.fetchval(
        repo.STORE,
        cmd.command_id,
        device.device_id,
        device.store_id,
        cmd.device_seq,
        str(cmd.__struct_config__.tag),
        digest,
        text,
        result.status,
        msgspec.json.encode(result).decode(),
    )


async def save_ack(conn: asyncpg.Connection, device: DeviceCaller, position: int) -> None:
    """Remember how far the device has stored the event log (for operators; resume uses Hello)."""
    await conn.execute(repo.SAVE_ACK, device.device_id, position)
