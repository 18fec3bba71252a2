"""The set-based way of applying a chunk of commands (the fast path of ``service.apply_commands``).

A handheld back online uploads thousands of plain ``IssueTicket`` commands. Applying them one by one
costs five round trips each; here a chunk costs two: with the store lock held (taken by the caller),
``Chunk.read`` fetches in one query everything the chunk's commands are checked against (their ids and
sequence numbers already stored, tickets and numbers already used, products, counters, the store's
currency, business day and last event position), ``Chunk.take`` decides each command in order in
Python with the very checks of ``server.tickets.service.issue`` and assigns its event position, and
``Chunk.flush`` writes all tickets, lines, events and command outcomes in one statement.

``take`` answers None for what it does not decide: other commands (void, attach, release), a till's
upload of a scanned QR, and a ticket id that already exists. The caller then flushes and applies that
command with the per-command code, and reads a new ``Chunk`` for the rest. The rules are the same on
both paths (tests compare them): replays answer the stored result, a reused id or sequence number is
refused without a write, a refusal is stored like an effect, the device's last applied sequence number
and the events are written in the same transaction, positions follow the order of the commands.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from protocol.tickets import AnyCommand, CommandResult, IssueTicket, Ticket
from server import events
from server.auth.guards import DeviceCaller
from server.errors import AppError
from server.sync import repository as repo
from server.sync.results import again, content_of, encode_result, rejected, seq_reused
from server.tickets.service import Product, check_catalog, check_issue, check_totals, new_ticket

_ticket_enc = msgspec.json.Encoder()


class OutOfStep(Exception):
    """The store's event counter was not where the chunk reserved its positions from (cannot happen while
    the store lock is held); the caller gives up the transaction and applies the chunk command by command."""


@dataclass(frozen=True)
class Prepared:
    """A command with its canonical content, computed before the store lock is taken."""

    cmd: AnyCommand
    text: str
    digest: bytes


def prepare(device: DeviceCaller, commands: Sequence[AnyCommand]) -> list[Prepared]:
    return [Prepared(cmd, *content_of(cmd, device.device_id)) for cmd in commands]


def _plain_issue(cmd: AnyCommand) -> IssueTicket | None:
    return cmd if isinstance(cmd, IssueTicket) and cmd.scanned_qr is None else None


class Chunk:
    """What a run of commands is checked against, and the writes decided so far (not yet flushed)."""

    def __init__(self, device: DeviceCaller, row: asyncpg.Record) -> None:
        self.device = device
        self.currency: str = row["currency"]
        self.day = row["business_day"]
        self.business_day: str = self.day.isoformat()
        self.position: int = row["last_position"] or 0  # the last position handed out
        self.flushed_position = self.position  # where the event counter stands in the database
        self.last_seq: int = row["last_seq"] or 0
        # Stored commands by id (any device) and this device's by sequence number; decided ones join them.
        self.stored: dict[uuid.UUID, dict[str, Any]] = {}
        self.seq_holder: dict[int, uuid.UUID] = {}
        for command_id, device_id, device_seq, content_hash, content, result in row["commands"]:
            self.stored[command_id] = {
                "device_id": device_id,
                "content_hash": content_hash,
                "content": content,
                "result": result,
            }
            if device_id == device.device_id:
                self.seq_holder[device_seq] = command_id
        self.seq_holder.update(row["seqs"])
        self.tickets: set[uuid.UUID] = set(row["tickets"])
        self.numbers: set[str] = set(row["numbers"])
        self.products = {pid: Product(store_id, sku, counter_id) for pid, store_id, sku, counter_id in row["products"]}
        self.counters: dict[uuid.UUID, uuid.UUID] = dict(row["counters"])
        # Decided and not yet written: (position, payload, at_ms, command_id) per issued ticket, and
        # (command_id, device_seq, kind, content_hash, content, status, result) per stored outcome.
        self.events: list[tuple[Any, ...]] = []
        self.commands: list[tuple[Any, ...]] = []
        self.written: list[tuple[int, bytes]] = []  # event frames written (visible once committed)

    @classmethod
    async def read(cls, conn: asyncpg.Connection, device: DeviceCaller, items: Sequence[Prepared], plans: str) -> Chunk:
        """Read what ``items`` are checked against; the caller holds the store lock and has asked for this
        statement to be planned for its arguments (``plans`` is the plan setting to put back)."""
        issues = [c for c in (_plain_issue(p.cmd) for p in items) if c is not None]
        row = await conn.fetchrow(
            repo.CHUNK_CONTEXT,
            device.store_id,
            device.device_id,
            [p.cmd.command_id for p in items],
            [p.cmd.device_seq for p in items],
            [c.ticket.id for c in issues],
            [c.ticket.number for c in issues],
            list({ln.product_id for c in issues for ln in c.ticket.lines}),
            list({c.ticket.counter_id for c in issues}),
            plans,
        )
        assert row is not None, "the device's store exists"
        return cls(device, row)

    def take(self, item: Prepared) -> CommandResult | None:
        """Decide one command (in order), or None when it needs the per-command path."""
        cmd = item.cmd
        if isinstance(cmd, IssueTicket) and cmd.scanned_qr is not None:
            return None  # verified and applied as the issuing handheld's command
        stored = self.stored.get(cmd.command_id)
        if stored is not None:
            return again(stored, self.device.device_id, cmd, item.text, item.digest)
        holder = self.seq_holder.get(cmd.device_seq)
        if holder is not None:
            return seq_reused(cmd, holder)
        if not isinstance(cmd, IssueTicket):
            return None
        draft = cmd.ticket
        try:
            check_issue(self.device, draft)
            if draft.id in self.tickets:
                return None  # the same ticket again, or its id reused: compared with the stored ticket
            check_totals(draft)
            check_catalog(
                draft,
                currency=self.currency,
                counter_store_id=self.counters.get(draft.counter_id),
                number_taken=draft.number in self.numbers,
                products=self.products,
            )
        except AppError as exc:
            result = rejected(cmd, exc)
            self._record(item, result)
            return result
        ticket = new_ticket(draft, self.device.device_id, self.business_day)
        self.position += 1
        result = CommandResult(command_id=cmd.command_id, status="applied", ticket=ticket, position=self.position)
        self._record(item, result, ticket)
        return result

    def _record(self, item: Prepared, result: CommandResult, ticket: Ticket | None = None) -> None:
        cmd = item.cmd
        text = encode_result(result)
        kind = str(cmd.__struct_config__.tag)
        self.commands.append((cmd.command_id, cmd.device_seq, kind, item.digest, item.text, result.status, text))
        self.stored[cmd.command_id] = {
            "device_id": self.device.device_id,
            "content_hash": item.digest,
            "content": item.text,
            "result": text,
        }
        self.seq_holder[cmd.device_seq] = cmd.command_id
        self.last_seq = max(self.last_seq, cmd.device_seq)
        if ticket is not None:
            self.tickets.add(ticket.id)
            self.numbers.add(ticket.number)
            payload = _ticket_enc.encode(ticket).decode()
            self.events.append((result.position, payload, time.time_ns() // 1_000_000, cmd.command_id))

    async def flush(self, conn: asyncpg.Connection) -> None:
        """Write what was decided since the last flush, in one statement."""
        if not self.commands:
            return
        last = await conn.fetchval(
            repo.WRITE_CHUNK,
            self.device.store_id,
            self.device.device_id,
            self.day,
            *_columns(self.events, 4),
            *_columns(self.commands, 7),
            self.flushed_position,
            self.position,
            events.CHANNEL,
        )
        if last != self.position:
            raise OutOfStep(f"event counter of store {self.device.store_id} moved under the lock")
        self.flushed_position = self.position
        sid = str(self.device.store_id)
        self.written += [(p, events.event_frame(p, sid, "ticket_issued", t, at)) for p, t, at, _ in self.events]
        self.events, self.commands = [], []


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as columns (what ``unnest`` takes)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
