"""The set-based way of applying a chunk of commands (the fast path of ``service.apply_commands``).

A handheld back online uploads thousands of plain ``IssueTicket`` commands. Applying them one by one
costs five round trips each; here a chunk costs a few in all. With the chunk's advisory keys held
(``lock_plan``, taken by the caller), ``Chunk.read`` locks the tickets the chunk names and fetches in
one query everything its commands are checked against (their ids and sequence numbers already stored,
tickets and numbers already used, products, counters, the store's currency and business day),
``Chunk.take`` decides each command in order in Python with the very checks of
``server.tickets.service.issue``, and ``Chunk.flush`` writes all tickets, lines and refused commands in
one statement. The events and the outcomes that carry their positions are written last, with the
store's counter (``server.sync.pending``).

``take`` answers None for what it does not decide: other commands (void, attach, release), a till's
upload of a scanned QR, and a ticket id that already exists. The caller then flushes and applies that
command with the per-command code, and reads a new ``Chunk`` for the rest. The rules are the same on
both paths (tests compare them): replays answer the stored result, a reused id or sequence number is
refused without a write, a refusal is stored like an effect, the device's last applied sequence number
and the events are written in the same transaction, positions follow the order of the commands.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from protocol.qr import read_unverified
from protocol.tickets import AnyCommand, AttachMember, CommandResult, IssueTicket, ReleaseTicket, VoidTicket
from server import events
from server.auth.guards import DeviceCaller
from server.errors import AppError
from server.sync import repository as repo
from server.sync.pending import Pending
from server.sync.results import again, content_of, encode_result, rejected, seq_reused
from server.tickets.service import Product, check_catalog, check_issue, check_totals, new_ticket

BUCKETS = 64
"""Advisory buckets per store for the ids and numbers a chunk may insert (bounds a chunk's locks)."""


@dataclass(frozen=True)
class Prepared:
    """A command with its canonical content, computed before any lock is taken."""

    cmd: AnyCommand
    text: str
    digest: bytes


def prepare(device: DeviceCaller, commands: Sequence[AnyCommand]) -> list[Prepared]:
    return [Prepared(cmd, *content_of(cmd, device.device_id)) for cmd in commands]


@dataclass(frozen=True)
class LockPlan:
    """What a chunk locks first (steps 1 and 2 of the lock order in ``server.events``)."""

    keys: list[str]  # advisory keys (taken in key order, in one statement)
    tickets: list[uuid.UUID]  # existing tickets it may change (FOR UPDATE, in id order)
    devices: list[uuid.UUID]  # devices whose outcomes it stores (FOR KEY SHARE)


def lock_plan(device: DeviceCaller, items: Sequence[Prepared]) -> LockPlan:
    """The locks a chunk takes before it reads anything.

    Keys: every device whose commands it stores (the uploader, and the handheld that signed a scanned
    QR), which serialises the transactions of one device; and the buckets of the command ids, ticket
    ids and numbers it may insert, so even two devices that (wrongly) send the same id or number never
    wait for each other's rows out of order. Tickets: those its void, attach and release commands name.
    """
    store = device.store_id
    devices = {device.device_id}
    buckets: set[int] = set()
    tickets: set[uuid.UUID] = set()
    for item in items:
        cmd = item.cmd
        buckets.add(cmd.command_id.int % BUCKETS)
        if isinstance(cmd, IssueTicket):
            issue = cmd
            if cmd.scanned_qr is not None:
                claimed = read_unverified(cmd.scanned_qr)
                if claimed is None:
                    continue  # refused before it writes anything
                devices.add(claimed.device_id)
                issue = claimed.command
            buckets.add(issue.ticket.id.int % BUCKETS)
            buckets.add(zlib.crc32(issue.ticket.number.encode()) % BUCKETS)
        elif isinstance(cmd, VoidTicket | AttachMember | ReleaseTicket):
            tickets.add(cmd.ticket_id)
    keys = [f"ft-sync:{d}" for d in sorted(devices)] + [f"ft-sync:{store}:{b}" for b in sorted(buckets)]
    return LockPlan(keys, sorted(tickets), sorted(devices))


def _plain_issue(cmd: AnyCommand) -> IssueTicket | None:
    return cmd if isinstance(cmd, IssueTicket) and cmd.scanned_qr is None else None


class Chunk:
    """What a run of commands is checked against, and the writes decided so far (not yet flushed)."""

    def __init__(self, device: DeviceCaller, row: asyncpg.Record, pending: Pending) -> None:
        self.device = device
        self.pending = pending
        self.state: str | None = row["state"]
        self.currency: str = row["currency"]
        self.day = row["business_day"]
        self.business_day: str = self.day.isoformat()
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
        # Outcomes decided earlier in this transaction and not written yet count as stored.
        for command_id, stored in pending.by_command.items():
            self.stored[command_id] = stored
            if stored["device_id"] == device.device_id:
                self.seq_holder[stored["device_seq"]] = command_id
        self.tickets: set[uuid.UUID] = set(row["tickets"])
        self.numbers: set[str] = set(row["numbers"])
        self.products = {pid: Product(store_id, sku, counter_id) for pid, store_id, sku, counter_id in row["products"]}
        self.counters: dict[uuid.UUID, uuid.UUID] = dict(row["counters"])
        # Decided and not yet written: (payload, command_id) per issued ticket, (command_id, device_seq,
        # kind, content_hash, content, status, result) per refused command, the sequence numbers of both.
        self.issued: list[tuple[str, uuid.UUID]] = []
        self.refused: list[tuple[Any, ...]] = []
        self.seqs: list[int] = []

    @classmethod
    async def read(
        cls,
        conn: asyncpg.Connection,
        device: DeviceCaller,
        items: Sequence[Prepared],
        plans: str,
        pending: Pending,
        plan: LockPlan | None = None,
    ) -> Chunk:
        """Read what ``items`` are checked against; the caller holds the chunk's keys and has asked for this
        statement to be planned for its arguments (``plans`` is the plan setting to put back). The first
        read of a transaction also locks the rows of ``plan``."""
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
            plan.tickets if plan else [],
            plan.devices if plan else [],
        )
        assert row is not None, "the device's store exists"
        return cls(device, row, pending)

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
        result = CommandResult(command_id=cmd.command_id, status="applied", ticket=ticket)
        event = events.new_event("ticket_issued", ticket)
        self.pending.add(self.device.device_id, cmd, item.text, item.digest, result, event)
        self.stored[cmd.command_id] = self.pending.by_command[cmd.command_id]
        self._seen(item)
        self.tickets.add(ticket.id)
        self.numbers.add(ticket.number)
        self.issued.append((event.payload, cmd.command_id))
        return result

    def _record(self, item: Prepared, result: CommandResult) -> None:
        """A refused command, stored by ``flush``."""
        cmd = item.cmd
        text = encode_result(result)
        kind = str(cmd.__struct_config__.tag)
        self.refused.append((cmd.command_id, cmd.device_seq, kind, item.digest, item.text, result.status, text))
        self.stored[cmd.command_id] = {
            "device_id": self.device.device_id,
            "content_hash": item.digest,
            "content": item.text,
            "result": text,
        }
        self._seen(item)

    def _seen(self, item: Prepared) -> None:
        self.seq_holder[item.cmd.device_seq] = item.cmd.command_id
        self.last_seq = max(self.last_seq, item.cmd.device_seq)
        self.seqs.append(item.cmd.device_seq)

    async def flush(self, conn: asyncpg.Connection) -> None:
        """Write what was decided since the last flush (all but its events), in one statement."""
        if not self.seqs:
            return
        await conn.execute(
            repo.WRITE_CHUNK,
            self.device.store_id,
            self.device.device_id,
            self.day,
            *_columns(self.issued, 2),
            *_columns(self.refused, 7),
            self.seqs,
        )
        self.issued, self.refused, self.seqs = [], [], []


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as columns (what ``unnest`` takes)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]
