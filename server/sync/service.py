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
from server import events
from server.auth.guards import DeviceCaller
from server.errors import AppError, Unauthenticated
from server.sync import repository as repo
from server.tickets import service as tickets
from server.tickets.service import Outcome, first_difference

log = logging.getLogger(__name__)

MAX_BATCH = 5000
CHUNK = 200
"""Commands per transaction: bounds how long one upload holds the store's event-log lock."""

Handler = Callable[[asyncpg.Connection, DeviceCaller, Any], Awaitable[Outcome]]
HANDLERS: dict[type, Handler] = {
    IssueTicket: tickets.issue,
    VoidTicket: tickets.void,
    AttachMember: tickets.attach_member,
    ReleaseTicket: tickets.release,
}

_result_dec = msgspec.json.Decoder(CommandResult)


def content_of(cmd: AnyCommand) -> tuple[str, bytes]:
    """Canonical JSON of a command (sorted keys) and its SHA-256."""
    text = json.dumps(msgspec.to_builtins(cmd), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
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
        async with conn.transaction():
            await events.lock_store(conn, device.store_id)
            if await conn.fetchval(repo.DEVICE_STATE, device.device_id) != "active":
                raise Unauthenticated(
                    "This device has been revoked; ask a manager to enroll it again.", Codes.DEVICE_REVOKED
                )
            for cmd in commands[start : start + CHUNK]:
                results.append(await apply_one(conn, device, cmd))
    return results, int(await conn.fetchval(repo.LAST_SEQ, device.device_id))


async def apply_one(conn: asyncpg.Connection, device: DeviceCaller, cmd: AnyCommand) -> CommandResult:
    """Apply one command inside the caller's transaction (which holds the store lock)."""
    text, digest = content_of(cmd)
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
    try:
        async with conn.transaction():
            outcome = await HANDLERS[type(cmd)](conn, device, cmd)
            result = CommandResult(
                command_id=cmd.command_id,
                status="replayed" if outcome.replayed else "applied",
                ticket=outcome.ticket,
                position=outcome.position,
            )
            await _record(conn, device, cmd, text, digest, result)
    except AppError as exc:
        result = CommandResult(command_id=cmd.command_id, status="rejected", error=exc.body())
        async with conn.transaction():
            await _record(conn, device, cmd, text, digest, result)
    except asyncpg.PostgresError as exc:
        # Not the command's fault (e.g. a deadlock): not stored, so sending it again may apply it.
        log.warning("command %s failed: %s", cmd.command_id, exc)
        return refused(cmd, CommandCodes.FAILED, "The server could not apply this command now; it will be retried.")
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
    await conn.execute(
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
