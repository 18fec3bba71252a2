"""What the till's presenters need from the local store, the device keys and the server.

``cashier_app.wiring`` adapts the real client pieces (SQLite store and outbox, HTTP API, websocket
transport, device keys) to these; tests hand in plain in-memory fakes. Failures cross the boundary as
``client_common.presenters.ports.Refused`` (the server said no, with its code and sentence) or
``Unreachable`` (no answer). Every amount is integer fen.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from protocol.payments import ShiftReport, TenderKind
from protocol.tickets import TicketEvent

# --- tickets and customers -------------------------------------------------------------------------


@dataclass(frozen=True)
class BasketLine:
    line_no: int
    name: str
    qty: int
    unit_price: int
    line_total: int


@dataclass(frozen=True)
class BasketTicket:
    """An open ticket ready to be paid: from the server, or read from its signed QR (``qr`` set)."""

    id: uuid.UUID
    number: str
    total: int
    lines: tuple[BasketLine, ...]
    member_id: uuid.UUID | None = None
    counter: str = ""  # the counter's code or name, for the cashier's eyes
    qr: str = ""  # the scanned QR text when the ticket came from a code; the till uploads it itself


@dataclass(frozen=True)
class MemberBalances:
    """What a member can spend here. ``points_value`` is the fen the points are worth at this store."""

    member_id: uuid.UUID
    name: str  # masked by the server, e.g. 王*
    tier: str = ""
    points: int = 0
    points_value: int = 0
    e_coin: int = 0
    stored_value: int = 0

    def spendable(self, kind: TenderKind) -> int | None:
        """Fen this member can pay with ``kind``; None for tenders not taken from the member."""
        return {"stored_value": self.stored_value, "ecoin": self.e_coin, "points": self.points_value}.get(kind)


@dataclass(frozen=True)
class Customer:
    """Every open ticket of one customer in this store (all counters), and their member account."""

    tickets: tuple[BasketTicket, ...]
    member: MemberBalances | None = None


class UnknownIssuer(ValueError):
    """The code names a handheld this till holds no key for yet (enrolled since the last key refresh):
    the server can still check it, so online the till asks the server instead of refusing."""


class TicketQrReader(Protocol):
    def read(self, text: str) -> BasketTicket:
        """Verify a scanned ticket QR against the issuing device's key; works offline.

        ``ValueError`` with a sentence a cashier can act on when the code cannot be trusted
        (``UnknownIssuer`` when only the issuing device's key is missing here).
        """
        ...


class Customers(Protocol):
    async def find(self, code: str) -> Customer:
        """The customer behind a ticket QR, ticket number or member code (needs the server)."""
        ...

    async def member(self, code: str) -> MemberBalances:
        """A member by card, code or phone, with balances (needs the server)."""
        ...


class TicketEvents(Protocol):
    """The store's ticket event log as the local store keeps it (catch-up, then live)."""

    def subscribe(self, listener: Callable[[TicketEvent], None]) -> Callable[[], None]:
        """Call ``listener`` for every event already held, in order, then for each new one."""
        ...

    def member_name(self, member_id: uuid.UUID) -> str:
        """A masked display name for the member, or "" when this till does not know it yet."""
        ...


# --- payments ----------------------------------------------------------------------------------------

ChargeStatus = Literal["approved", "declined", "unknown", "failed"]


@dataclass(frozen=True)
class Charge:
    """A card or wallet payment's outcome. ``unknown`` is resolved by asking again with the same id."""

    payment_id: uuid.UUID
    status: ChargeStatus
    decline_reason: str = ""
    token: str = ""
    masked: str = ""  # e.g. "**** 1111"


class PaymentTerminal(Protocol):
    async def charge(self, payment_id: uuid.UUID, kind: TenderKind, amount: int, instrument: str) -> Charge:
        """Charge a card (number as the reader gives it) or wallet (the customer's code). Retries reuse the id.

        ``Unreachable`` when no answer came: the outcome is then unknown, never charge with a new id.
        """
        ...

    async def query(self, payment_id: uuid.UUID) -> Charge:
        """What became of a payment whose answer never arrived."""
        ...


@dataclass(frozen=True)
class Tender:
    """A tender in the checkout: ``amount`` is what it pays, for cash what was handed over.

    ``terminal_ref``: a card charged on the standalone card terminal, with the approval code it printed
    (``masked`` then holds the last four). ``allowance_id``: a balance spent from the offline allowance
    the server granted this till."""

    id: uuid.UUID
    kind: TenderKind
    amount: int
    token: str = ""
    masked: str = ""
    terminal_ref: str = ""
    allowance_id: uuid.UUID | None = None

    @property
    def offline_ok(self) -> bool:
        """Settles without the server: cash, a card on the standalone terminal, a granted allowance."""
        return self.kind == "cash" or bool(self.terminal_ref) or self.allowance_id is not None


@dataclass(frozen=True)
class SettleRequest:
    checkout_id: uuid.UUID
    tickets: tuple[BasketTicket, ...]
    tenders: tuple[Tender, ...]
    total: int
    member_id: uuid.UUID | None = None
    shift_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Settled:
    """A settled checkout (or one kept in the outbox when ``queued``): its receipt and signed QR."""

    checkout_id: uuid.UUID
    receipt_no: str
    ticket_numbers: tuple[str, ...]
    total: int
    tendered: int
    change: int
    tenders: tuple[Tender, ...]
    receipt_qr: str
    points_earned: int = 0
    queued: bool = False
    settled_at_ms: int = 0


TRY_AGAIN_LATER = ("unauthenticated", "database_unavailable", "payment_provider_unavailable")
"""Refusals that say "not now" rather than "never": nothing was decided, so the same checkout is sent again
(an earlier attempt whose answer was lost may have settled it; only its id finds that out)."""


class Checkouts(Protocol):
    async def settle(self, request: SettleRequest) -> Settled:
        """Settle online; a retry with the same checkout id is a replay."""
        ...

    def queue(self, request: SettleRequest) -> Settled:
        """Keep an offline cash checkout of QR-scanned tickets in the outbox; the receipt QR is signed here."""
        ...


# --- refunds -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoldLine:
    ticket_id: uuid.UUID
    ticket_number: str
    line_no: int
    name: str
    qty: int  # sold
    refundable_qty: int  # sold minus already returned
    line_total: int
    ticket_state: str = "paid"  # of the line's ticket: paid, released, partly_refunded, refunded


@dataclass(frozen=True)
class SoldCheckout:
    checkout_id: uuid.UUID
    receipt_no: str
    total: int
    lines: tuple[SoldLine, ...]
    tenders: tuple[Tender, ...] = ()


@dataclass(frozen=True)
class RefundLine:
    ticket_id: uuid.UUID
    line_no: int
    qty: int


@dataclass(frozen=True)
class Approval:
    staff_code: str
    pin: str


@dataclass(frozen=True)
class RefundDone:
    refund_id: uuid.UUID
    amount: int
    to: tuple[tuple[TenderKind, int], ...]  # which tenders the money goes back to, and how much
    points_reversed: int = 0
    # card shares the cashier gives back on the standalone card terminal: (its approval code, fen)
    on_terminal: tuple[tuple[str, int], ...] = ()
    e_coin_reversed: int = 0  # fen of campaign e-coin the sale earned, taken back


class Refunds(Protocol):
    async def find(self, receipt: str) -> SoldCheckout:
        """A settled checkout by its receipt QR text or receipt number."""
        ...

    async def refund(
        self,
        refund_id: uuid.UUID,
        checkout_id: uuid.UUID,
        lines: tuple[RefundLine, ...],
        reason: str,
        approval: Approval | None,
    ) -> RefundDone: ...


# --- shifts and top-ups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftInfo:
    shift_id: uuid.UUID
    float_amount: int
    opened_at_ms: int = 0


class Shifts(Protocol):
    async def current(self) -> ShiftInfo | None:
        """This till's open shift, if any (a restarted till carries on)."""
        ...

    async def open(self, shift_id: uuid.UUID, float_amount: int) -> ShiftInfo: ...

    async def report(self, shift_id: uuid.UUID) -> ShiftReport:
        """X report: the figures so far."""
        ...

    async def close(self, shift_id: uuid.UUID, counted_cash: int) -> ShiftReport:
        """Z report: the final figures with the counted cash and the difference."""
        ...


class TopUps(Protocol):
    async def top_up(
        self, member_id: uuid.UUID, movement_id: uuid.UUID, amount: int, shift_id: uuid.UUID | None
    ) -> int:
        """Add stored value paid in cash; returns the new stored-value balance. Retries reuse the id."""
        ...


@dataclass(frozen=True)
class TillContext:
    """Where this till is and its rules, fixed at enrollment or by the store's settings."""

    device_id: uuid.UUID
    store_id: uuid.UUID
    refund_approval_limit: int = 50_000  # refunds above this many fen need a supervisor
    points_per_yuan: int = 100  # points that pay one yuan when points are a tender
    currency: str = "CNY"
    tender_kinds: tuple[TenderKind, ...] = field(default=("cash", "card", "wallet", "stored_value", "ecoin", "points"))


# --- offline spending allowances ---------------------------------------------------------------------


@dataclass(frozen=True)
class HeldAllowance:
    """Part of a member's balance the server reserved for this till to spend offline (escrow).

    ``kind`` is the tender it pays (stored_value, ecoin, points); ``amount`` and ``left`` are in the
    ledger's units: points for points, fen otherwise. ``left`` is what this till may still spend from it
    by its own count (the server's count when last read, less the checkouts waiting in the outbox); 0 once
    it expired."""

    allowance_id: uuid.UUID
    member_id: uuid.UUID
    kind: TenderKind
    amount: int
    left: int
    expires_at_ms: int = 0


class Allowances(Protocol):
    """The till's local copy of its open allowances (works offline) and reserving new ones (online)."""

    def held(self, member_id: uuid.UUID) -> tuple[HeldAllowance, ...]:
        """This member's allowances held by this till, as the local copy has them."""
        ...

    async def reserve(
        self, allowance_id: uuid.UUID, member_id: uuid.UUID, kind: TenderKind, amount: int
    ) -> HeldAllowance:
        """Ask the server to reserve ``amount`` (ledger units) of the member's ``kind`` for this till; a retry
        with the same id is a replay. ``Refused`` (e.g. insufficient_balance) or ``Unreachable``."""
        ...

    async def give_back(self, allowance_id: uuid.UUID) -> None:
        """Return what is left of an allowance to the member (online); harmless when repeated."""
        ...
