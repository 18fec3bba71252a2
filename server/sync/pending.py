"""What a chunk's transaction writes last: its events and the outcomes that carry their positions.

Positions are handed out by the store's counter, the last lock a transaction takes (``server.events``).
A command that changed a ticket is answered with its event's position, and its stored outcome holds
that position too (a replay answers it); so those outcomes are written in the same final statement as
the events, where the positions are known. Commands later in the same transaction see them here
before they reach the table: a command sent twice in one upload is a replay, not a second effect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from protocol.tickets import AnyCommand, CommandResult
from server import events
from server.events import NewEvent
from server.sync import repository as repo
from server.sync.results import encode_result
from server.tickets.service import FIRES_DEFERRED


@dataclass
class Pending:
    """The events and outcomes of one transaction, in the order they were decided."""

    store_id: uuid.UUID
    events: list[NewEvent] = field(default_factory=list)
    # Per outcome: command id, device id, device seq, kind, content hash, content, status, result (JSON
    # without the position) and its event's number (1-based) in ``events``.
    outcomes: list[tuple[Any, ...]] = field(default_factory=list)
    by_command: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    by_seq: dict[tuple[uuid.UUID, int], uuid.UUID] = field(default_factory=dict)
    event_of: dict[uuid.UUID, int] = field(default_factory=dict)
    first: int | None = None  # the first position, once written

    def add(
        self,
        device_id: uuid.UUID,
        cmd: AnyCommand,
        text: str,
        digest: bytes,
        result: CommandResult,
        event: NewEvent,
    ) -> None:
        """A command whose effect makes ``event``; its outcome is stored with the event's position."""
        self.events.append(event)
        number = len(self.events)
        result_text = encode_result(result)
        kind = str(cmd.__struct_config__.tag)
        self.outcomes.append(
            (cmd.command_id, device_id, cmd.device_seq, kind, digest, text, result.status, result_text, number)
        )
        self.by_command[cmd.command_id] = {
            "command_id": cmd.command_id,
            "device_id": device_id,
            "device_seq": cmd.device_seq,
            "content_hash": digest,
            "content": text,
            "result": result_text,
        }
        self.by_seq[(device_id, cmd.device_seq)] = cmd.command_id
        self.event_of[cmd.command_id] = number

    def find(self, command_id: uuid.UUID, device_id: uuid.UUID, device_seq: int) -> dict[str, Any] | None:
        """Like ``repo.FIND`` over the outcomes not written yet."""
        hit = self.by_command.get(command_id)
        if hit is None and (holder := self.by_seq.get((device_id, device_seq))) is not None:
            hit = self.by_command[holder]
        return hit

    async def write(self, conn: asyncpg.Connection) -> None:
        """The transaction's last statement before its commit: take the store's counter, append the
        events and store the outcomes with their positions. Deferred triggers run first."""
        if not self.events:
            return
        if any(e.kind in FIRES_DEFERRED for e in self.events):
            await events.run_deferred(conn)
        cols = [list(c) for c in zip(*self.outcomes, strict=True)] if self.outcomes else [[] for _ in range(9)]
        self.first = int(
            await conn.fetchval(
                repo.WRITE_LAST,
                self.store_id,
                [e.kind for e in self.events],
                [e.ticket_id for e in self.events],
                [e.payload for e in self.events],
                [e.at_ms for e in self.events],
                *cols,
                events.CHANNEL,
            )
        )

    def placed(self, result: CommandResult) -> CommandResult:
        """``result`` with its event's position (after ``write``)."""
        number = self.event_of.get(result.command_id)
        if number is None or self.first is None or result.status == "rejected":
            return result
        return msgspec.structs.replace(result, position=self.first + number - 1)

    def frames(self) -> list[tuple[int, bytes]]:
        """The events as websocket frames with their positions (after ``write``)."""
        if self.first is None:
            return []
        sid = str(self.store_id)
        return [(self.first + i, e.frame(self.first + i, sid)) for i, e in enumerate(self.events)]
