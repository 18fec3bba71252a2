"""Apply device commands exactly once.

Each command id gets exactly one outcome, stored forever with its content hash: a replay answers the
stored result (status ``replayed``), the same id with different content is refused naming the first
differing field. The per-device last applied sequence number is raised in the same transaction as the
effect. A refused or failing command never blocks the rest.

Commands are applied in chunks, one transaction each, in the lock order of ``server.events``: the
chunk's advisory keys (its devices, buckets of its ids and numbers), the tickets it names, the row
work, and last the store's counter with the events and the outcomes that carry their positions
(``server.sync.pending``). A chunk is applied set-based (``server.sync.batch``: one read, one write)
and only the commands that path does not decide go through ``apply_one``. A database error anywhere in
the chunk rolls it back, and the chunk is applied again command by command, each in a savepoint, so
only the failing command fails.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg

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
from server.exceptions import service as exceptions
from server.sync import batch, scanned
from server.sync import repository as repo
from server.sync.pending import Pending
from server.sync.results import again, content_of, encode_result, refused, rejected, seq_reused
from server.tickets import service as tickets
from server.tickets.service import Outcome

log = logging.getLogger(__name__)

MAX_BATCH = 5000
CHUNK = 200
"""Commands per transaction: bounds how long one upload holds its keys and rows."""

FEW = 16
"""Up to this many commands, a chunk's read keeps its cached plan (see ``repo.LOCK_KEYS``)."""

Handler = Callable[[asyncpg.Connection, DeviceCaller, Any], Awaitable[Outcome]]
HANDLERS: dict[type, Handler] = {
    VoidTicket: tickets.void,
    AttachMember: tickets.attach_member,
    ReleaseTicket: tickets.release,
}

NUL = "\\u0000"
"""A NUL character as the canonical JSON writes it: PostgreSQL's jsonb refuses it."""
UNTRANSLATABLE = "22P05"
"""The SQLSTATE PostgreSQL answers a NUL in jsonb with."""

__all__ = ["CHUNK", "MAX_BATCH", "apply_commands", "apply_one", "content_of", "save_ack"]


async def apply_commands(
    conn: asyncpg.Connection,
    device: DeviceCaller,
    commands: Sequence[AnyCommand],
    *,
    set_based: bool = True,
    committed: list[tuple[int, bytes]] | None = None,
) -> tuple[list[CommandResult], int]:
    """Apply ``commands`` in order; return one result per command and the device's last applied seq.

    ``committed`` (only outside a transaction of the caller's) receives the event frames written, in
    position order, once they are committed: the caller's process can fan them out without reading
    them back (other processes read the log when NOTIFY nudges them). ``set_based=False`` applies every
    command through ``apply_one`` in savepoints, the reference the set-based path is tested against."""
    if committed is not None and conn.is_in_transaction():
        raise RuntimeError("committed frames are known only when apply_commands owns the transactions")
    if len(commands) > MAX_BATCH:
        raise AppError(
            CommandCodes.BATCH_TOO_LARGE,
            f"Send at most {MAX_BATCH} commands per upload; this one has {len(commands)}.",
            status=413,
            details={"max": MAX_BATCH, "given": len(commands)},
        )
    prepared = batch.prepare(device, commands)  # before any lock is taken
    results: list[CommandResult] = []
    last_seq: int | None = None
    for start in range(0, len(prepared), CHUNK):
        chunk = prepared[start : start + CHUNK]
        plan = batch.lock_plan(device, chunk)
        try:
            if not set_based:
                raise _Redo
            pending = Pending(device.store_id)
            async with conn.transaction():
                plans = await conn.fetchval(repo.LOCK_KEYS, plan.keys, len(chunk) > FEW, column=1)
                chunk_results, last_seq = await _apply_chunk(conn, device, chunk, plans, plan, pending)
                await pending.write(conn)
        except _Redo as redo:
            # A database error spoils the whole transaction: apply the chunk again with a savepoint
            # around each command, so only the failing command fails.
            if redo.__cause__ is not None:
                log.info("chunk applied command by command after: %s", redo.__cause__)
            pending = Pending(device.store_id)
            async with conn.transaction():
                await conn.execute(repo.LOCK_KEYS, plan.keys, False)
                _check_active(await conn.fetchval(repo.LOCK_ROWS, device.device_id, plan.tickets, plan.devices))
                chunk_results = [await apply_one(conn, device, p.cmd, pending, guarded=True) for p in chunk]
                await pending.write(conn)
            last_seq = None
        results.extend(pending.placed(r) for r in chunk_results)
        if committed is not None:
            committed += pending.frames()
    if last_seq is None:
        last_seq = int(await conn.fetchval(repo.LAST_SEQ, device.device_id))
    return results, last_seq


class _Redo(Exception):
    """A database error outside savepoints: the chunk is applied again command by command."""


def _check_active(state: str | None) -> None:
    if state != "active":
        raise Unauthenticated("This device has been revoked; ask a manager to enroll it again.", Codes.DEVICE_REVOKED)


async def _apply_chunk(
    conn: asyncpg.Connection,
    device: DeviceCaller,
    items: Sequence[batch.Prepared],
    plans: str,
    plan: batch.LockPlan,
    pending: Pending,
) -> tuple[list[CommandResult], int | None]:
    """Apply ``items`` set-based where ``batch.Chunk`` decides them, else one by one (in order).

    ``plans`` is the plan setting to put back after the chunk's read (see ``repo.LOCK_KEYS``); the first
    read also locks the rows of ``plan``. Returns the results and the device's last applied seq when
    known without another read."""
    results: list[CommandResult] = []
    chunk: batch.Chunk | None = None
    try:
        for i, item in enumerate(items):
            if chunk is None:
                if i > 0:  # a read after a command took the per-command path
                    plans = str(await conn.fetchval(repo.PLAN_FOR_ARGUMENTS))
                chunk = await batch.Chunk.read(conn, device, items[i:], plans, pending, plan if i == 0 else None)
                if i == 0:
                    _check_active(chunk.state)
            result = chunk.take(item)
            if result is None:
                await chunk.flush(conn)  # what came before is written before this command reads
                chunk = None  # what the context read may have changed
                result = await apply_one(conn, device, item.cmd, pending)
            results.append(result)
        if chunk is None:
            return results, None
        await chunk.flush(conn)
        return results, chunk.last_seq
    except asyncpg.PostgresError as exc:
        raise _Redo from exc
    except asyncpg.InterfaceError as exc:
        if not isinstance(exc, ValueError):  # a value the driver cannot encode; anything else propagates
            raise
        raise _Redo from exc


async def apply_one(
    conn: asyncpg.Connection, device: DeviceCaller, cmd: AnyCommand, pending: Pending, *, guarded: bool = False
) -> CommandResult:
    """Apply one command inside the caller's transaction (which holds the chunk's keys and rows); its
    event, and its outcome with the event's position, go to ``pending`` (written last by the caller).

    Handlers check everything before they write, so a refused command has written nothing and its
    refusal is recorded in the same transaction. Unguarded, a database error propagates (the caller
    redoes the chunk). Guarded, the command runs in a savepoint and a database error refuses only it:
    tried a second time in a fresh savepoint, a command that fails again the same way with an error
    about its data (a value PostgreSQL cannot store, a broken constraint) can never be applied, so its
    refusal is stored (``command_unstorable``, a dead letter like any refusal); any other error is
    answered ``command_failed`` and not stored, so a resend may apply it.

    A ticket a till scanned from the customer's QR (``IssueTicket.scanned_qr``) is verified against the
    issuing handheld's enrolled key and then applied as that handheld's own command: same command id,
    the handheld's sequence number, so the handheld's later upload of it is a replay.
    """
    if not guarded:
        return await _apply(conn, device, cmd, pending)
    first = await _attempt(conn, device, cmd, pending)
    if isinstance(first, CommandResult):
        return first
    second = await _attempt(conn, device, cmd, pending) if unstorable(first) else first
    if isinstance(second, CommandResult):
        return second
    log.warning("command %s failed: %s", cmd.command_id, second)
    if unstorable(second) and _failure(second) == _failure(first):
        return await _dead_letter(conn, device, cmd, second)
    return refused(cmd, CommandCodes.FAILED, "The server could not apply this command now; it will be retried.")


def _failure(exc: Exception) -> str:
    """What went wrong, to compare two attempts: the SQLSTATE (or the client-side encoding error)."""
    return getattr(exc, "sqlstate", None) or type(exc).__name__


def unstorable(exc: Exception) -> bool:
    """An error about the command's own data, which trying again cannot change: a data exception
    (SQLSTATE class 22, e.g. a NUL character or a number out of range), an integrity constraint
    violation (class 23), or a value the driver cannot encode for its column."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "")[:2] in ("22", "23")
    return isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError)


async def _attempt(
    conn: asyncpg.Connection, device: DeviceCaller, cmd: AnyCommand, pending: Pending
) -> CommandResult | Exception:
    """The command in a savepoint; a database error rolls the savepoint back and is returned."""
    try:
        async with conn.transaction():
            return await _apply(conn, device, cmd, pending, guarded=True)
    except asyncpg.PostgresError as exc:
        return exc
    except asyncpg.InterfaceError as exc:
        if not isinstance(exc, ValueError):  # only a value the driver could not encode; not a lost link
            raise
        return exc


async def _dead_letter(
    conn: asyncpg.Connection, device: DeviceCaller, cmd: AnyCommand, exc: Exception
) -> CommandResult:
    result = refused(
        cmd,
        CommandCodes.UNSTORABLE,
        "The server can never store this command (the database refuses its data); correct it on the device"
        " and make a new command.",
        sqlstate=_failure(exc),
    )
    text, digest = content_of(cmd, device.device_id)
    stored = await _attempt_record(conn, device, cmd, text, digest, result)
    if not stored:
        log.warning("dead letter %s could not be stored either; answered without storing it", cmd.command_id)
    return result


async def _attempt_record(
    conn: asyncpg.Connection, device: DeviceCaller, cmd: AnyCommand, text: str, digest: bytes, result: CommandResult
) -> bool:
    """Store a refusal in a savepoint; False when even that is refused (e.g. its content is what the
    database cannot hold): the same refusal then comes back whenever the command is sent again."""
    try:
        async with conn.transaction():
            await _record(conn, device, cmd, text, digest, result)
    except asyncpg.PostgresError:
        return False
    except asyncpg.InterfaceError as exc:
        if not isinstance(exc, ValueError):
            raise
        return False
    return True


async def _apply(
    conn: asyncpg.Connection, device: DeviceCaller, cmd: AnyCommand, pending: Pending, guarded: bool = False
) -> CommandResult:
    uploaded_by: uuid.UUID | None = None
    if isinstance(cmd, IssueTicket) and cmd.scanned_qr is not None:
        try:
            issuer, cmd = await scanned.resolve(conn, device, cmd)
        except AppError as exc:  # not the command the QR signed: nothing to store it under
            return rejected(cmd, exc)
        uploaded_by, device = device.device_id, issuer
    text, digest = content_of(cmd, device.device_id)
    row: Mapping[str, Any] | asyncpg.Record | None = pending.find(cmd.command_id, device.device_id, cmd.device_seq)
    if row is None or row["command_id"] != cmd.command_id:
        found = await conn.fetchrow(repo.FIND, cmd.command_id, device.device_id, cmd.device_seq)
        if found is not None and (row is None or found["command_id"] == cmd.command_id):
            row = found
    if row is not None and row["command_id"] == cmd.command_id:
        return again(row, device.device_id, cmd, text, digest)
    if row is not None:
        return seq_reused(cmd, row["command_id"])
    if NUL in text:  # its outcome could never be stored beside its effect: refuse it before the effect
        return refused(
            cmd,
            CommandCodes.UNSTORABLE,
            "The server can never store this command (the database refuses its data); correct it on the device"
            " and make a new command.",
            sqlstate=UNTRANSLATABLE,
        )
    # Handlers check everything before they write; guarded, a savepoint also undoes an effect refused
    # after a failed statement (a ticket number taken by a racing insert).
    effect = conn.transaction() if guarded else None
    if effect is not None:
        await effect.start()
    try:
        if isinstance(cmd, IssueTicket):
            outcome = await tickets.issue(conn, device, cmd, uploaded_by=uploaded_by)
        else:
            outcome = await HANDLERS[type(cmd)](conn, device, cmd)
    except AppError as exc:
        if effect is not None:
            await effect.rollback()
        result = rejected(cmd, exc)
        if isinstance(cmd, VoidTicket | AttachMember):  # done offline, paid meanwhile: kept for the manager
            await exceptions.record_refused_command(conn, device, cmd, exc)
    except BaseException:
        if effect is not None:
            await effect.rollback()
        raise
    else:
        if effect is not None:
            await effect.commit()
        result = CommandResult(
            command_id=cmd.command_id, status="replayed" if outcome.replayed else "applied", ticket=outcome.ticket
        )
        if outcome.event is not None:
            await _record(conn, device, cmd, text, digest, result, now=False)  # the sequence number only
            pending.add(device.device_id, cmd, text, digest, result, events.new_event(outcome.event, outcome.ticket))
            return result
    await _record(conn, device, cmd, text, digest, result)
    return result


async def _record(
    conn: asyncpg.Connection,
    device: DeviceCaller,
    cmd: AnyCommand,
    text: str,
    digest: bytes,
    result: CommandResult,
    *,
    now: bool = True,
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
        encode_result(result),
        now,
    )


async def save_ack(conn: asyncpg.Connection, device: DeviceCaller, position: int) -> None:
    """Remember how far the device has stored the event log (for operators; resume uses Hello)."""
    await conn.execute(repo.SAVE_ACK, device.device_id, position)
