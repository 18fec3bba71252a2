"""Electronic sales tickets, the commands devices send about them, and the events the server emits.

A ticket is made on the handheld (id from the device, human number store-counter-device-sequence)
and issued by an ``IssueTicket`` command. Totals are integer fen and are checked by the server:
``line_total = qty * unit_price - line_discount`` and ``total = sum(line_total)``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from protocol.errors import ErrorBody
from protocol.messages import Message

Fen = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Qty = Annotated[int, msgspec.Meta(ge=1, le=10_000)]

TicketState = Literal["issued", "paid", "released", "voided", "expired", "partly_refunded", "refunded"]
"""``issued -> paid -> released``, ``issued -> voided | expired``; a refund moves a paid or released ticket to
``partly_refunded`` (some units of its lines came back) or ``refunded`` (all of them)."""


class TicketLine(msgspec.Struct, kw_only=True, frozen=True):
    line_no: Annotated[int, msgspec.Meta(ge=1)]
    product_id: uuid.UUID
    sku: str
    name: str
    qty: Qty
    list_price: Fen
    unit_price: Fen  # the actual price charged per unit (promotion or override)
    promo: bool = False
    line_discount: Fen = 0
    line_total: Fen

    def expected_total(self) -> int:
        return self.qty * self.unit_price - self.line_discount


class TicketDraft(msgspec.Struct, kw_only=True, frozen=True):
    """What a handheld issues. The server checks every figure."""

    id: uuid.UUID
    store_id: uuid.UUID
    counter_id: uuid.UUID
    number: str  # store-counter-device-sequence, e.g. SH01-C-APL-H3-000042
    lines: list[TicketLine]
    total: Fen
    currency: str = "CNY"
    member_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = None
    issued_at_ms: int = 0  # device clock; informational only
    override_approved_by: uuid.UUID | None = None  # supervisor for price overrides
    device_id: uuid.UUID | None = None  # issuing handheld; needed when a till uploads a scanned QR


class Ticket(msgspec.Struct, kw_only=True, frozen=True):
    """A ticket as the server knows it."""

    id: uuid.UUID
    store_id: uuid.UUID
    counter_id: uuid.UUID
    device_id: uuid.UUID
    staff_id: uuid.UUID | None
    number: str
    lines: list[TicketLine]
    total: Fen
    currency: str = "CNY"
    member_id: uuid.UUID | None = None
    state: TicketState = "issued"
    issued_at_ms: int = 0
    business_day: str = ""  # ISO date the ticket expires at the end of
    checkout_id: uuid.UUID | None = None
    released: bool = False  # the goods were handed over; stays true when the ticket is refunded later


# --- commands: device -> server -------------------------------------------------------------------


class Command(msgspec.Struct, tag_field="kind", kw_only=True):
    """Base of every command. ``command_id`` is made and saved on the device before the first send;
    ``device_seq`` numbers the device's commands 1, 2, 3 ..."""

    command_id: uuid.UUID
    device_seq: Annotated[int, msgspec.Meta(ge=1)]
    made_at_ms: int = 0


class IssueTicket(Command, tag="issue_ticket"):
    ticket: TicketDraft
    scanned_qr: str | None = None  # the QR text a till scanned, when the till uploads the ticket itself


class VoidTicket(Command, tag="void_ticket"):
    ticket_id: uuid.UUID
    reason: str = ""


class AttachMember(Command, tag="attach_member"):
    ticket_id: uuid.UUID
    member_id: uuid.UUID


class ReleaseTicket(Command, tag="release_ticket"):
    ticket_id: uuid.UUID
    receipt_qr: str | None = None  # when released offline against the customer's signed receipt


AnyCommand = IssueTicket | VoidTicket | AttachMember | ReleaseTicket

CommandStatus = Literal["applied", "replayed", "rejected"]


class CommandResult(msgspec.Struct, kw_only=True, frozen=True):
    command_id: uuid.UUID
    status: CommandStatus
    ticket: Ticket | None = None
    error: ErrorBody | None = None
    position: int | None = None  # event-log position of the effect, when there is one


class CommandBatch(msgspec.Struct, kw_only=True, frozen=True):
    """An offline outbox uploaded in one request; answered per command."""

    commands: list[AnyCommand]


class BatchResult(msgspec.Struct, kw_only=True, frozen=True):
    results: list[CommandResult]
    last_applied_seq: int


# --- events: server -> devices --------------------------------------------------------------------


class TicketEvent(msgspec.Struct, kw_only=True, frozen=True):
    """One entry of a store's durable event log. ``position`` increases without gaps per store."""

    position: int
    store_id: uuid.UUID
    # ticket_issued, ticket_paid, ticket_released, ticket_voided, ticket_expired, member_attached,
    # ticket_partly_refunded, ticket_refunded
    kind: str
    ticket: Ticket
    at_ms: int


# --- websocket frames (extend protocol.messages.Message) -------------------------------------------


class Submit(Message, tag="submit"):
    """Commands sent over the websocket; answered with ``Results``."""

    commands: list[AnyCommand]


class Results(Message, tag="results"):
    results: list[CommandResult]
    last_applied_seq: int = 0


class EventFrame(Message, tag="event"):
    event: TicketEvent


class CaughtUp(Message, tag="caught_up"):
    """Catch-up is done; live events follow."""

    position: int


class Ack(Message, tag="ack"):
    """The device has stored everything up to ``position``."""

    position: int
