"""An in-memory server that keeps the sync rules the real server keeps, for driving ``SyncClient``.

Rules (docs/protocol.md): a command id is processed once, forever, and its result stored (applied or
rejected); the same id again with the same content answers the stored result as ``replayed``; the same
id with different content is refused naming the field; the per-device last sequence number is
recorded with the effect; every state change appends one event at the next position of the store's
log; a device that says Hello with a position receives everything after it, ``CaughtUp``, then live
events.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from protocol import PROTOCOL_VERSION
from protocol.errors import Codes, ErrorBody
from protocol.messages import Error, Hello, Message, Ping, Pong, Welcome
from protocol.tickets import (
    Ack,
    AnyCommand,
    AttachMember,
    BatchResult,
    CaughtUp,
    CommandBatch,
    CommandResult,
    EventFrame,
    IssueTicket,
    ReleaseTicket,
    Results,
    Submit,
    Ticket,
    TicketEvent,
    VoidTicket,
)

REUSED = "command_id_reused"
TICKET_EXISTS = "ticket_exists"
BAD_TRANSITION = "invalid_transition"


@dataclass
class DeviceRecord:
    device_id: uuid.UUID
    store_id: uuid.UUID
    last_seq: int = 0
    seqs: set[int] = field(default_factory=set)


class ModelServer:
    def __init__(self) -> None:
        self.devices: dict[str, DeviceRecord] = {}
        self.log: dict[uuid.UUID, list[TicketEvent]] = {}
        self.tickets: dict[uuid.UUID, Ticket] = {}
        self.results: dict[uuid.UUID, tuple[bytes, CommandResult]] = {}
        self.effects: Counter[uuid.UUID] = Counter()  # command id -> times its effect was applied
        self.connections: list[ModelConnection] = []
        self.clock = 0

    def enroll(self, token: str, device_id: uuid.UUID, store_id: uuid.UUID) -> None:
        self.devices[token] = DeviceRecord(device_id, store_id)
        self.log.setdefault(store_id, [])

    def connect(self) -> ModelConnection:
        conn = ModelConnection(self)
        self.connections.append(conn)
        return conn

    def disconnect(self, conn: ModelConnection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)

    def position(self, store_id: uuid.UUID) -> int:
        return len(self.log[store_id])

    # --- commands -----------------------------------------------------------------------------------

    def upload(self, token: str, batch: CommandBatch) -> BatchResult:
        """``POST /sync/commands``."""
        device = self.devices[token]
        results = [self.process(device, c) for c in batch.commands]
        return BatchResult(results=results, last_applied_seq=device.last_seq)

    def process(self, device: DeviceRecord, command: AnyCommand) -> CommandResult:
        content = msgspec.json.encode(command)
        stored = self.results.get(command.command_id)
        if stored is not None:
            if stored[0] == content:
                return (
                    msgspec.structs.replace(stored[1], status="replayed")
                    if stored[1].status == "applied"
                    else stored[1]
                )
            field_name = _first_difference(stored[0], content)
            return CommandResult(
                command_id=command.command_id,
                status="rejected",
                error=ErrorBody(
                    code=REUSED,
                    message=f"This command id was already used with a different {field_name}.",
                    details={"field": field_name},
                ),
            )
        result = self._apply(device, command)
        device.last_seq = max(device.last_seq, command.device_seq)
        device.seqs.add(command.device_seq)
        self.results[command.command_id] = (content, result)
        return result

    def _apply(self, device: DeviceRecord, command: AnyCommand) -> CommandResult:
        def refuse(code: str, message: str) -> CommandResult:
            return CommandResult(
                command_id=command.command_id, status="rejected", error=ErrorBody(code=code, message=message)
            )

        match command:
            case IssueTicket(ticket=draft):
                if draft.id in self.tickets:
                    return refuse(TICKET_EXISTS, "A ticket with this id already exists.")
                ticket = Ticket(
                    id=draft.id,
                    store_id=device.store_id,
                    counter_id=draft.counter_id,
                    device_id=device.device_id,
                    staff_id=draft.staff_id,
                    number=draft.number,
                    lines=draft.lines,
                    total=draft.total,
                    member_id=draft.member_id,
                )
                kind = "ticket_issued"
            case VoidTicket() | AttachMember() | ReleaseTicket():
                current = self.tickets.get(command.ticket_id)
                if current is None or current.store_id != device.store_id:
                    return refuse(Codes.NOT_FOUND, "No such ticket in this store.")
                need = "paid" if isinstance(command, ReleaseTicket) else "issued"
                if current.state != need:
                    return refuse(BAD_TRANSITION, f"The ticket is {current.state}, not {need}.")
                if isinstance(command, VoidTicket):
                    ticket, kind = msgspec.structs.replace(current, state="voided"), "ticket_voided"
                elif isinstance(command, AttachMember):
                    ticket, kind = msgspec.structs.replace(current, member_id=command.member_id), "member_attached"
                else:
                    ticket, kind = msgspec.structs.replace(current, state="released"), "ticket_released"
        position = self._append(device.store_id, kind, ticket)
        self.effects[command.command_id] += 1
        return CommandResult(command_id=command.command_id, status="applied", ticket=ticket, position=position)

    def pay(self, ticket_id: uuid.UUID) -> bool:
        """A till's checkout settled the ticket (not a device command here, just another writer)."""
        current = self.tickets.get(ticket_id)
        if current is None or current.state != "issued":
            return False
        self._append(current.store_id, "ticket_paid", msgspec.structs.replace(current, state="paid"))
        return True

    def _append(self, store_id: uuid.UUID, kind: str, ticket: Ticket) -> int:
        self.clock += 1
        self.tickets[ticket.id] = ticket
        log = self.log[store_id]
        event = TicketEvent(position=len(log) + 1, store_id=store_id, kind=kind, ticket=ticket, at_ms=self.clock)
        log.append(event)
        for conn in self.connections:
            if conn.device is not None and conn.device.store_id == store_id and conn.live:
                conn.send(EventFrame(event=event))
        return event.position


class ModelConnection:
    """The server's end of one websocket."""

    def __init__(self, server: ModelServer) -> None:
        self.server = server
        self.device: DeviceRecord | None = None
        self.live = False
        self.to_client: list[Message] = []
        self.acked = 0

    def send(self, frame: Message) -> None:
        self.to_client.append(frame)

    def receive(self, frame: Message) -> None:
        match frame:
            case Hello():
                device = self.server.devices.get(frame.device_token)
                if device is None:
                    self.send(Error(error=ErrorBody(code=Codes.UNAUTHENTICATED, message="Not enrolled.")))
                    return
                self.device = device
                log = self.server.log[device.store_id]
                self.send(
                    Welcome(
                        protocol_version=PROTOCOL_VERSION,
                        device_id=device.device_id,
                        store_id=device.store_id,
                        position=len(log),
                        server_time_ms=self.server.clock,
                    )
                )
                for event in log[frame.last_position :]:
                    self.send(EventFrame(event=event))
                self.send(CaughtUp(position=len(log)))
                self.live = True
            case Submit() if self.device is not None:
                results = [self.server.process(self.device, c) for c in frame.commands]
                self.send(Results(results=results, last_applied_seq=self.device.last_seq))
            case Ack():
                self.acked = max(self.acked, frame.position)
            case Ping():
                self.send(Pong(nonce=frame.nonce))
            case _:
                pass


def _first_difference(a: bytes, b: bytes) -> str:
    left: Any = msgspec.json.decode(a)
    right: Any = msgspec.json.decode(b)

    def walk(x: Any, y: Any, path: str) -> str | None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                found = walk(x.get(key), y.get(key), f"{path}.{key}" if path else key)
                if found:
                    return found
            return None
        if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
            for i, (p, q) in enumerate(zip(x, y, strict=True)):
                found = walk(p, q, f"{path}[{i}]")
                if found:
                    return found
            return None
        return None if x == y else path

    return walk(left, right, "") or "content"
