"""Consolidated checkout and refunds: the wire contract.

A checkout settles N open tickets of one store with M tenders in one go: all tickets paid or none.
Its ``id`` is made and saved on the till (or handheld, in one-stop mode) before the first attempt,
and so is every tender's ``id``: a card or wallet tender's id is the payment id the provider is
asked with, so a retry after a timeout never charges twice. Sending the same checkout id again with
the same content is a replay and returns the stored result; the same id with different content is
refused with ``checkout_id_reused`` naming the field.

Amounts are integer fen. Cash may be more than what is due and gives change; every other tender must
match exactly.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from protocol.money import Minor
from protocol.receipts import ReceiptPayload, ReceiptTicket
from protocol.tickets import Fen, Ticket, TicketState

TenderKind = Literal["cash", "card", "wallet", "stored_value", "ecoin", "points"]

CHANGE_GIVING: tuple[str, ...] = ("cash",)
"""Tenders that may be more than what is due; the difference goes back as change."""

PROVIDER_TENDERS: tuple[str, ...] = ("card", "wallet")
"""Tenders charged and refunded through the payment provider."""

MEMBER_TENDERS: tuple[str, ...] = ("stored_value", "ecoin", "points")
"""Tenders spent from (and refunded to) the member's accounts through the ledger."""

CheckoutMode = Literal["till", "one_stop"]
RefundTo = Literal["drawer", "provider", "member"]
Qty = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
Reason = Annotated[str, msgspec.Meta(max_length=200)]
TerminalRef = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9-]{4,32}$")]
Last4 = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4}$")]
ReceiptNo = Annotated[str, msgspec.Meta(max_length=64)]


class CheckoutCodes:
    """Stable error codes of checkout and refunds. Never rename one; add new ones."""

    NO_TICKETS = "checkout_has_no_tickets"
    DUPLICATE_TICKET = "duplicate_ticket_in_checkout"
    DUPLICATE_TENDER = "duplicate_tender_id"
    TICKET_ALREADY_IN_CHECKOUT = "ticket_already_in_checkout"
    TICKET_NOT_OPEN = "ticket_not_open"
    TICKET_NOT_PAID = "ticket_not_paid"
    MIXED_MEMBERS = "tickets_of_different_members"
    MIXED_CURRENCIES = "tickets_of_different_currencies"
    CURRENCY_MISMATCH = "currency_mismatch"
    TOTAL_CHANGED = "checkout_total_changed"
    TENDER_NOT_POSITIVE = "tender_not_positive"
    TENDER_SHORT = "tenders_short_of_total"
    TENDER_OVERPAID = "non_cash_tender_overpays"
    TOO_MANY_CHANGE_TENDERS = "more_than_one_cash_tender"
    CASH_NOT_NEEDED = "cash_tender_not_needed"
    TENDER_NEEDS_TOKEN = "tender_needs_token"
    TENDER_NEEDS_MEMBER = "tender_needs_member"
    TENDER_NOT_ALLOWED = "tender_not_allowed_here"
    CHECKOUT_ID_REUSED = "checkout_id_reused"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_UNKNOWN = "payment_outcome_unknown"
    NO_OPEN_TICKETS = "no_open_tickets"
    REFUND_ID_REUSED = "refund_id_reused"
    REFUND_EMPTY = "refund_has_no_lines"
    REFUND_LINE_UNKNOWN = "refund_line_unknown"
    REFUND_QTY_EXCEEDS = "refund_qty_exceeds_sold"
    REFUND_EXCEEDS_PAID = "refund_exceeds_paid"
    TICKET_NOT_IN_CHECKOUT = "ticket_not_in_checkout"
    APPROVAL_REQUIRED = "supervisor_approval_required"
    APPROVAL_REFUSED = "supervisor_approval_refused"
    SHIFT_REQUIRED = "open_shift_required"
    POINTS_NOT_WHOLE = "points_amount_not_whole"
    TICKET_REFUNDED = "ticket_already_refunded"  # details: ticket_id, number


# --- checkout ---------------------------------------------------------------------------------------


class TenderRequest(msgspec.Struct, kw_only=True, frozen=True):
    """One tender as the cashier keyed it.

    ``id`` is made on the device before the first attempt; for card and wallet it is the payment id.
    ``amount`` is what the tender pays; for cash, what the customer handed over (change is given back).
    ``token`` is the card terminal's token or the wallet code the customer shows; never a card number.
    Points, e-coin and stored value amounts are in fen of value; the ledger converts points.

    A card charged on a standalone card terminal (not through the provider, e.g. while the till was
    offline) carries ``terminal_ref``, the approval code the terminal printed, and ``last4`` of the card
    instead of a token: the server records it as paid without asking the provider, and its refunds are
    made on that terminal. ``allowance_id`` spends points, e-coin or stored value from the offline
    allowance the server granted this till (docs/ledger.md) instead of the member's available balance.
    """

    id: uuid.UUID
    kind: TenderKind
    amount: Minor
    token: str | None = None
    terminal_ref: TerminalRef | None = None
    last4: Last4 | None = None
    allowance_id: uuid.UUID | None = None


class CheckoutRequest(msgspec.Struct, kw_only=True, frozen=True):
    """Settle these tickets with these tenders, all or nothing.

    ``expected_total`` is the total the station showed the customer; when given, a different server
    total (a ticket changed meanwhile) is refused rather than charged.

    ``settled_offline_at_ms`` says the till already took the money while the network was down (its
    outbox replays the checkout): a refusal for a conflict then also records an exception for the
    manager, named in the refusal's ``details["exception"]`` (see ``protocol.exceptions``). It is not
    part of the checkout's content: a replay with or without it is the same checkout.

    ``offline_receipt_no`` is the provisional receipt number the till printed on the customer's paper
    receipt when it settled offline; an exception recorded for the checkout shows it, so the refund
    can be matched to the customer's receipt. Like ``settled_offline_at_ms`` it is not part of the
    checkout's content, and a server that does not know it ignores it.
    """

    id: uuid.UUID
    ticket_ids: list[uuid.UUID]
    tenders: list[TenderRequest]
    member_id: uuid.UUID | None = None
    currency: str = "CNY"
    expected_total: Fen | None = None
    settled_offline_at_ms: int | None = None
    offline_receipt_no: ReceiptNo | None = None


class TenderResult(msgspec.Struct, kw_only=True, frozen=True):
    """A tender as settled: ``applied`` counts toward the total, ``change`` went back in cash."""

    id: uuid.UUID
    kind: TenderKind
    tendered: Fen
    applied: Fen
    change: Fen = 0
    payment_ref: str | None = None  # the provider's reference for card and wallet
    masked: str | None = None  # e.g. "**** 4242"; never a full card number


class SettledTicket(msgspec.Struct, kw_only=True, frozen=True):
    """A ticket paid by the checkout, with the counter its amount belongs to (concession settlement)."""

    id: uuid.UUID
    number: str
    counter_id: uuid.UUID
    total: Fen


class CheckoutResult(msgspec.Struct, kw_only=True, frozen=True):
    """What a settled checkout answers, first time and on every replay.

    ``receipt_text`` and ``receipt_text_58`` are the receipt laid out for 80 mm and 58 mm printers.
    The receipt QR is signed by the till with its own key: ``receipt_payload(result, till_id)`` gives
    the payload to pass to ``protocol.receipts.sign_receipt``.
    """

    id: uuid.UUID
    store_id: uuid.UUID
    mode: CheckoutMode
    tickets: list[SettledTicket]
    total: Fen
    tendered: Fen
    change: Fen
    currency: str
    tenders: list[TenderResult]
    member_id: uuid.UUID | None = None
    points_earned: int = 0
    receipt_no: str = ""
    receipt_text: str = ""
    receipt_text_58: str = ""
    settled_at_ms: int = 0
    replayed: bool = False

    @property
    def ticket_ids(self) -> list[uuid.UUID]:
        return [t.id for t in self.tickets]


def receipt_payload(result: CheckoutResult, signer: uuid.UUID) -> ReceiptPayload:
    """The signed-receipt payload of a settled checkout, for the till ``signer`` to sign."""
    return ReceiptPayload(
        receipt_no=result.receipt_no,
        store_id=result.store_id,
        checkout_id=result.id,
        tickets=[ReceiptTicket(t.id, t.number, t.total) for t in result.tickets],
        total=result.total,
        paid=result.tendered,
        change=result.change,
        currency=result.currency,
        at=result.settled_at_ms // 1000,
        signer=signer,
    )


class CustomerTickets(msgspec.Struct, kw_only=True, frozen=True):
    """Every open ticket of one customer in the store, found from one scanned ticket or member code."""

    member_id: uuid.UUID | None
    tickets: list[Ticket]
    total: Fen
    currency: str = "CNY"


class OneStopRequest(msgspec.Struct, kw_only=True, frozen=True):
    """One-stop mode: a handheld settles its own ticket with card or wallet, no till involved."""

    id: uuid.UUID
    ticket_id: uuid.UUID
    tender: TenderRequest
    expected_total: Fen | None = None


# --- refunds ----------------------------------------------------------------------------------------


class RefundLineRequest(msgspec.Struct, kw_only=True, frozen=True):
    """Return ``qty`` units of one ticket line."""

    ticket_id: uuid.UUID
    line_no: Annotated[int, msgspec.Meta(ge=1)]
    qty: Qty


class SupervisorApproval(msgspec.Struct, kw_only=True, frozen=True):
    """A supervisor's own sign-in, entered at the till for this refund only."""

    staff_code: str
    pin: str


class RefundRequest(msgspec.Struct, kw_only=True, frozen=True):
    """Refund whole tickets (``ticket_ids``) and/or chosen lines of a settled checkout.

    ``id`` is made on the till before the first attempt; retries are replays. Money goes back to the
    original tenders; member movements are reversed as new entries.
    """

    id: uuid.UUID
    checkout_id: uuid.UUID
    ticket_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    lines: list[RefundLineRequest] = msgspec.field(default_factory=list)
    reason: Reason = ""
    approval: SupervisorApproval | None = None


class RefundableLine(msgspec.Struct, kw_only=True, frozen=True):
    """A sold line of a settled checkout and how many of its units can still be returned."""

    ticket_id: uuid.UUID
    ticket_number: str
    line_no: int
    sku: str
    name: str
    qty: int
    returned: int
    line_total: Fen
    ticket_state: TicketState = "paid"  # paid, released, partly_refunded or refunded


class CheckoutForRefund(msgspec.Struct, kw_only=True, frozen=True):
    """A settled checkout as the refund screen needs it: what was paid, what can still be returned."""

    checkout: CheckoutResult
    lines: list[RefundableLine]
    refunded: Fen
    tender_refunded: dict[str, int] = msgspec.field(default_factory=dict)  # tender id -> fen given back


class RefundLineResult(msgspec.Struct, kw_only=True, frozen=True):
    ticket_id: uuid.UUID
    line_no: int
    qty: int
    amount: Fen


class RefundTenderResult(msgspec.Struct, kw_only=True, frozen=True):
    """How much of one original tender goes back, and where: the drawer, the provider or the member."""

    tender_id: uuid.UUID
    kind: TenderKind
    amount: Fen
    to: RefundTo
    refund_ref: str | None = None


class RefundResult(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    checkout_id: uuid.UUID
    store_id: uuid.UUID
    amount: Fen
    currency: str
    lines: list[RefundLineResult]
    tenders: list[RefundTenderResult]
    approved_by: uuid.UUID | None = None
    points_reversed: int = 0
    refunded_at_ms: int = 0
    e_coin_reversed: int = 0  # campaign e-coin the sale earned, taken back in proportion
    replayed: bool = False
