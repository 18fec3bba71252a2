"""What both ways of applying commands share: a command's canonical content and the answers that need
no database write (a replay, a reused id or sequence number)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec

from protocol.ticket_codes import CommandCodes
from protocol.tickets import AnyCommand, CommandResult, IssueTicket
from server.errors import AppError
from server.tickets.service import comparable_draft, first_difference

_result_dec = msgspec.json.Decoder(CommandResult)
_result_enc = msgspec.json.Encoder()
# Sorted keys, no spaces, non-ASCII as is: byte for byte what ``json.dumps(sort_keys=True,
# separators=(",", ":"), ensure_ascii=False)`` wrote when the first hashes were stored (tested).
_canonical = msgspec.json.Encoder(order="sorted")


def content_of(cmd: AnyCommand, issuer: uuid.UUID) -> tuple[str, bytes]:
    """Canonical JSON of a command (sorted keys) and its SHA-256.

    For ``IssueTicket`` it is what the ticket QR signs: the issuing device filled in, no ``scanned_qr``,
    and no line SKUs or names (catalog text a QR does not carry), so the handheld's own upload and a
    till's upload of the scanned QR of the same command are the same content. The text is hashed and
    kept forever, so its form never changes.
    """
    content = msgspec.to_builtins(cmd)
    if isinstance(cmd, IssueTicket):
        content.pop("scanned_qr", None)
        content["ticket"] = comparable_draft(content["ticket"], issuer)
    data = _canonical.encode(content)
    return data.decode(), hashlib.sha256(data).digest()


def encode_result(result: CommandResult) -> str:
    return _result_enc.encode(result).decode()


def refused(cmd: AnyCommand, code: str, message: str, **details: Any) -> CommandResult:
    return CommandResult(
        command_id=cmd.command_id,
        status="rejected",
        error=AppError(code, message, details=details).body(),
    )


def rejected(cmd: AnyCommand, exc: AppError) -> CommandResult:
    return CommandResult(command_id=cmd.command_id, status="rejected", error=exc.body())


def seq_reused(cmd: AnyCommand, holder: uuid.UUID) -> CommandResult:
    return refused(
        cmd,
        CommandCodes.SEQ_REUSED,
        f"Sequence number {cmd.device_seq} of this device already belongs to another command.",
        device_seq=cmd.device_seq,
        command_id=str(holder),
    )


def again(
    stored: Mapping[str, Any] | asyncpg.Record, device_id: uuid.UUID, cmd: AnyCommand, text: str, digest: bytes
) -> CommandResult:
    """The answer to a command whose id is already stored (``stored``: device_id, content_hash, content
    and result as text): the stored result when it is the same command, else a refusal naming the first
    differing field. Nothing is written either way."""
    if stored["device_id"] != device_id:
        return refused(
            cmd,
            CommandCodes.ID_REUSED,
            "This command id was already used by another device; make a new command.",
            field="device",
            command_id=str(cmd.command_id),
        )
    if bytes(stored["content_hash"]) != digest:
        field = first_difference(json.loads(stored["content"]), json.loads(text)) or "(content)"
        return refused(
            cmd,
            CommandCodes.ID_REUSED,
            f"This command id was already used with a different {field}; make a new command.",
            field=field,
            command_id=str(cmd.command_id),
        )
    result = _result_dec.decode(stored["result"])
    if result.status == "rejected":
        return result
    return msgspec.structs.replace(result, status="replayed")
