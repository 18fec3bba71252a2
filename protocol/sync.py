"""The client half of sync as a sans-IO state machine: no clock, no sockets, no asyncio.

``SyncClient`` keeps the outbox (commands with device-made ids and per-device sequence numbers),
the dead letters, the local view of the store's tickets and the resume position. The driver (a
websocket transport, a test harness) feeds it what happened — a connection was made or lost, a frame
arrived, a batch upload was answered — and then drains ``outputs()`` *in order*:

* ``Send``: a frame to write on the current connection;
* ``Done``: a command was applied (or replayed) by the server; drop it from the persisted outbox;
* ``DeadLettered``: a command was refused; keep it visible with the server's reason;
* ``EventApplied``: a ticket changed; persist the ticket and the new position *before* sending any
  later ``Send`` (the ``Ack`` that follows promises the device has stored it);
* ``ViewReset``: forget the local ticket view and position (the server's log is behind ours);
* ``Reconnect``: this connection is unusable (a gap in positions); close it and connect again;
* ``Fatal``: the server refused the device (revoked, wrong version); stop and tell the person;
* ``Problem``: an error frame or an undecodable frame; show it, the connection goes on.

The rules it relies on (kept by the server): a command id is applied at most once, forever; a replay
answers with the stored result; event positions increase by exactly one per store event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import msgspec

from protocol import PROTOCOL_VERSION
from protocol.codec import DecodeFailure, Frames, encode
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
    TicketDraft,
    TicketEvent,
    VoidTicket,
)

ServerFrame = Welcome | Results | EventFrame | CaughtUp | Error | Ping | Pong
ClientFrame = Hello | Submit | Ack | Ping | Pong

server_frames: Frames[ServerFrame] = Frames(ServerFrame)
client_frames: Frames[ClientFrame] = Frames(ClientFrame)

FATAL_CODES = frozenset({Codes.UNAUTHENTICATED, Codes.DEVICE_REVOKED, Codes.UNSUPPORTED_VERSION})
"""Error codes after which reconnecting cannot help: a person has to act."""

FATAL_CLOSE_CODES = frozenset({4001, 4002})
"""Websocket close codes with the same meaning (device not enrolled or revoked; protocol too old)."""

FRAME_TOO_LARGE = "frame_too_large"


class SyncCodes:
    """Stable codes the sync core itself reports."""

    POSITION_GAP = "position_gap"
    SERVER_BEHIND = "server_behind"


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A command the server refused, with its reason. It never blocks the rest of the outbox."""

    command: AnyCommand
    error: ErrorBody


# --- outputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    frame: Message

    @property
    def data(self) -> bytes:
        return encode(self.frame)


@dataclass(frozen=True, slots=True)
class Done:
    command_id: uuid.UUID
    result: CommandResult


@dataclass(frozen=True, slots=True)
class DeadLettered:
    letter: DeadLetter


@dataclass(frozen=True, slots=True)
class EventApplied:
    event: TicketEvent


@dataclass(frozen=True, slots=True)
class ViewReset:
    reason: ErrorBody


@dataclass(frozen=True, slots=True)
class Reconnect:
    reason: ErrorBody


@dataclass(frozen=True, slots=True)
class Fatal:
    error: ErrorBody


@dataclass(frozen=True, slots=True)
class Problem:
    error: ErrorBody


Output = Send | Done | DeadLettered | EventApplied | ViewReset | Reconnect | Fatal | Problem


class Phase(Enum):
    OFFLINE = "offline"  # no connection
    GREETING = "greeting"  # Hello sent, waiting for Welcome
    CATCHING_UP = "catching_up"  # Welcome received, catch-up events flowing
    LIVE = "live"  # CaughtUp received
    CLOSING = "closing"  # asked the driver to reconnect; ignoring frames until connection_lost
    STOPPED = "stopped"  # fatal refusal; a person must act


class SyncClient:
    """One device's sync state. Restore it from the device's store on start; see the module doc."""

    def __init__(
        self,
        device_token: str,
        *,
        position: int = 0,
        tickets: Iterable[Ticket] = (),
        outbox: Iterable[AnyCommand] = (),
        dead_letters: Iterable[DeadLetter] = (),
        next_seq: int = 1,
        batch_size: int = 100,
        window: int = 1000,
        ack_every: int = 100,
        app_version: str = "",
    ) -> None:
        self.device_token = device_token
        self.app_version = app_version
        self.position = position
        self.tickets: dict[uuid.UUID, Ticket] = {t.id: t for t in tickets}
        self.outbox: dict[uuid.UUID, AnyCommand] = {}
        self.dead_letters: dict[uuid.UUID, DeadLetter] = {d.command.command_id: d for d in dead_letters}
        self.next_seq = next_seq
        for command in sorted(outbox, key=lambda c: c.device_seq):
            self._remember(command)
        self.batch_size = batch_size
        self.window = window
        self.ack_every = ack_every
        self.phase = Phase.OFFLINE
        self.device_id: uuid.UUID | None = None
        self.store_id: uuid.UUID | None = None
        self.server_version: int | None = None
        self._in_flight: set[uuid.UUID] = set()
        self._unacked_events = 0
        self._out: list[Output] = []

    # --- what the driver reads ----------------------------------------------------------------------

    def outputs(self) -> list[Output]:
        """Everything to do since the last call, in the order it must be done."""
        out, self._out = self._out, []
        return out

    @property
    def online(self) -> bool:
        return self.phase in (Phase.CATCHING_UP, Phase.LIVE)

    @property
    def waiting(self) -> int:
        """Commands not yet acknowledged by the server."""
        return len(self.outbox)

    # --- making commands ----------------------------------------------------------------------------

    def issue(self, ticket: TicketDraft, *, command_id: uuid.UUID, made_at_ms: int = 0) -> IssueTicket:
        """Queue an ``IssueTicket`` with the next sequence number and return it (persist it first)."""
        command = IssueTicket(command_id=command_id, device_seq=self.next_seq, made_at_ms=made_at_ms, ticket=ticket)
        self.enqueue(command)
        return command

    def void(self, ticket_id: uuid.UUID, *, command_id: uuid.UUID, reason: str = "", made_at_ms: int = 0) -> VoidTicket:
        command = VoidTicket(
            command_id=command_id, device_seq=self.next_seq, made_at_ms=made_at_ms, ticket_id=ticket_id, reason=reason
        )
        self.enqueue(command)
        return command

    def attach_member(
        self, ticket_id: uuid.UUID, member_id: uuid.UUID, *, command_id: uuid.UUID, made_at_ms: int = 0
    ) -> AttachMember:
        command = AttachMember(
            command_id=command_id,
            device_seq=self.next_seq,
            made_at_ms=made_at_ms,
            ticket_id=ticket_id,
            member_id=member_id,
        )
        self.enqueue(command)
        return command

    def release(
        self, ticket_id: uuid.UUID, *, command_id: uuid.UUID, receipt_qr: str | None = None, made_at_ms: int = 0
    ) -> ReleaseTicket:
        command = ReleaseTicket(
            command_id=command_id,
            device_seq=self.next_seq,
            made_at_ms=made_at_ms,
            ticket_id=ticket_id,
            receipt_qr=receipt_qr,
        )
        self.enqueue(command)
        return command

    def enqueue(self, command: AnyCommand) -> None:
        """Queue a command built (and persisted) elsewhere, e.g. by the device store.

        A command already known is ignored, so restoring twice is harmless. The caller keeps sequence
        numbers unique (the device store allocates them in the same transaction as the outbox row).
        """
        if command.command_id in self.outbox or command.command_id in self.dead_letters:
            return
        self._remember(command)
        self._pump()

    def _remember(self, command: AnyCommand) -> None:
        self.outbox[command.command_id] = command
        self.next_seq = max(self.next_seq, command.device_seq + 1)

    def dismiss(self, command_id: uuid.UUID) -> DeadLetter | None:
        """The person has read a dead letter and dismissed it."""
        return self.dead_letters.pop(command_id, None)

    # --- connection events --------------------------------------------------------------------------

    def connection_made(self) -> None:
        """A new connection is open: greet with the last position we have stored."""
        if self.phase is Phase.STOPPED:
            return
        self.phase = Phase.GREETING
        self._in_flight.clear()
        self._unacked_events = 0
        self._send(
            Hello(
                protocol_version=PROTOCOL_VERSION,
                device_token=self.device_token,
                last_position=self.position,
                app_version=self.app_version,
            )
        )

    def connection_lost(self) -> None:
        """The connection is gone; whatever was in flight will be sent again on the next one."""
        if self.phase is not Phase.STOPPED:
            self.phase = Phase.OFFLINE
        self._in_flight.clear()

    def resume(self) -> None:
        """A person fixed what stopped sync (e.g. re-enrolled); allow connecting again."""
        self.phase = Phase.OFFLINE

    def ping(self, nonce: int) -> None:
        if self.online:
            self._send(Ping(nonce=nonce))

    # --- frames in ----------------------------------------------------------------------------------

    def receive_data(self, data: bytes | str) -> None:
        """Decode and handle one frame; a frame we cannot read is reported, never raised."""
        try:
            frame = server_frames.decode(data)
        except DecodeFailure as failure:
            self._out.append(Problem(failure.body))
            return
        self.receive(frame)

    def receive(self, frame: ServerFrame) -> None:
        if self.phase in (Phase.CLOSING, Phase.STOPPED, Phase.OFFLINE):
            return
        match frame:
            case Welcome():
                self._welcome(frame)
            case Results():
                self._results(frame.results)
            case EventFrame():
                self._event(frame.event)
            case CaughtUp():
                self._caught_up(frame.position)
            case Error():
                self._error(frame.error, frame.in_reply_to)
            case Ping():
                self._send(Pong(nonce=frame.nonce))
            case Pong():
                pass

    def _welcome(self, welcome: Welcome) -> None:
        self.device_id, self.store_id = welcome.device_id, welcome.store_id
        self.server_version = welcome.protocol_version
        if welcome.position < self.position:
            # The server's log is behind what we have seen (restored from a backup, or re-enrolled into
            # another store). Our view can no longer be trusted: start again from nothing.
            reason = ErrorBody(
                code=SyncCodes.SERVER_BEHIND,
                message=(
                    f"The server's ticket log ends at {welcome.position} but this device had seen {self.position}; "
                    "reloading all tickets."
                ),
                details={"server": welcome.position, "device": self.position},
            )
            self.position = 0
            self.tickets.clear()
            self._out.append(ViewReset(reason))
            self._reconnect(reason)
            return
        self.phase = Phase.CATCHING_UP
        self._pump()

    def _results(self, results: Iterable[CommandResult]) -> None:
        for result in results:
            self._in_flight.discard(result.command_id)
            command = self.outbox.pop(result.command_id, None)
            if command is None:
                continue  # a duplicate answer, or one for a command already settled
            if result.status == "rejected":
                error = result.error or ErrorBody(code=Codes.BAD_REQUEST, message="The server refused this command.")
                letter = DeadLetter(command=command, error=error)
                self.dead_letters[command.command_id] = letter
                self._out.append(DeadLettered(letter))
            else:
                self._out.append(Done(result.command_id, result))
        self._pump()

    def _event(self, event: TicketEvent) -> None:
        if event.position <= self.position:
            return  # seen already (duplicate delivery or an overlapping catch-up)
        if event.position != self.position + 1:
            self._gap(event.position)
            return
        self.position = event.position
        self.tickets[event.ticket.id] = event.ticket
        self._out.append(EventApplied(event))
        self._unacked_events += 1
        if self.phase is Phase.LIVE or self._unacked_events >= self.ack_every:
            self._ack()

    def _caught_up(self, position: int) -> None:
        if position > self.position:
            self._gap(position)
            return
        self.phase = Phase.LIVE
        self._ack()

    def _error(self, error: ErrorBody, in_reply_to: str | None) -> None:
        if error.code in FATAL_CODES:
            self.stop(error)
            return
        self._out.append(Problem(error))
        if in_reply_to == "submit":
            # The whole Submit was refused before any command was applied, and we cannot tell which
            # one it was: send everything in flight again (ids make that harmless), smaller if too big,
            # otherwise on a fresh connection after the driver's backoff.
            if error.code == FRAME_TOO_LARGE and self.batch_size > 1:
                self.batch_size = max(1, self.batch_size // 2)
                self._in_flight.clear()
                self._pump()
            else:
                self._reconnect(error)

    def stop(self, error: ErrorBody) -> None:
        """Stop syncing until ``resume``: the server refused the device itself."""
        self.phase = Phase.STOPPED
        self._in_flight.clear()
        self._out.append(Fatal(error))

    def _gap(self, seen: int) -> None:
        self._reconnect(
            ErrorBody(
                code=SyncCodes.POSITION_GAP,
                message=f"Missed ticket updates between {self.position} and {seen}; reconnecting to catch up.",
                details={"have": self.position, "seen": seen},
            )
        )

    def _reconnect(self, reason: ErrorBody) -> None:
        self.phase = Phase.CLOSING
        self._in_flight.clear()
        self._out.append(Reconnect(reason))

    def _ack(self) -> None:
        if self._unacked_events or self.phase is Phase.LIVE:
            self._send(Ack(position=self.position))
        self._unacked_events = 0

    # --- batch upload over HTTP (alongside or instead of the websocket) ------------------------------

    def batch(self, limit: int = 1000) -> CommandBatch:
        """The oldest queued commands, for one ``POST /sync/commands``; answer with ``batch_answered``."""
        return CommandBatch(commands=list(self.outbox.values())[:limit])

    def batch_answered(self, answer: BatchResult) -> None:
        """Apply a batch upload's per-command results, exactly as if they came over the websocket."""
        self._results(answer.results)

    # --- sending ------------------------------------------------------------------------------------

    def _pump(self) -> None:
        """Send queued commands not yet in flight on this connection, oldest first, within the window."""
        if not self.online:
            return
        room = self.window - len(self._in_flight)
        batch: list[AnyCommand] = []
        for command_id, command in self.outbox.items():
            if room <= 0:
                break
            if command_id in self._in_flight:
                continue
            batch.append(command)
            self._in_flight.add(command_id)
            room -= 1
            if len(batch) == self.batch_size:
                self._send(Submit(commands=batch))
                batch = []
        if batch:
            self._send(Submit(commands=batch))

    def _send(self, frame: Message) -> None:
        self._out.append(Send(frame))
