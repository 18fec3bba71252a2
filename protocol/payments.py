"""Tenders, card and wallet payments, and till shifts on the wire.

A card or wallet payment has an id made on the device *before* the first attempt (``payment_id``);
every retry reuses it, and the server never charges twice for one id. Card numbers and wallet codes
travel once, to the payment provider; the server keeps only the provider's token and a masked
last four.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

TenderKind = Literal["cash", "card", "wallet", "stored_value", "ecoin", "points"]
TENDER_KINDS: tuple[TenderKind, ...] = ("cash", "card", "wallet", "stored_value", "ecoin", "points")
"""Every tender, in the order reports list them."""

ProviderTender = Literal["card", "wallet"]
"""The tenders that go through a payment provider."""

PaymentStatus = Literal["pending", "approved", "declined", "unknown", "failed"]
"""``pending``: an attempt is in flight. ``unknown``: the provider did not say whether it charged;
a query will tell (never a second charge). ``failed``: the provider has no charge for this id, so
the payment may be taken again with the same id. ``approved`` and ``declined`` are final."""

DeclineReason = Literal["insufficient_funds", "card_expired", "do_not_honour", "invalid_card"]

Fen = Annotated[int, msgspec.Meta(ge=1, le=10**12)]
FenOrZero = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
CardNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{12,19}$")]
WalletCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{16,24}$")]


class PaymentCodes:
    """Stable error codes of payments and shifts. Never rename one; add new ones."""

    PAYMENT_MISMATCH = "payment_id_reused"
    PAYMENT_IN_PROGRESS = "payment_in_progress"
    PAYMENT_NOT_RESOLVABLE = "payment_not_resolvable"
    INSTRUMENT_MISSING = "payment_instrument_missing"
    REFUND_TOO_LARGE = "refund_exceeds_payment"
    REFUND_NOT_ALLOWED = "refund_not_allowed"
    PROVIDER_UNAVAILABLE = "payment_provider_unavailable"
    SHIFT_ALREADY_OPEN = "shift_already_open"
    SHIFT_CLOSED = "shift_closed"
    SHIFT_NOT_YOURS = "shift_not_yours"
    SHIFT_ID_REUSED = "shift_id_reused"
    NOT_A_TILL = "not_a_till"
    MOVEMENT_ID_REUSED = "movement_id_reused"
    RECEIPT_INVALID = "receipt_invalid"


# --- card and wallet payments ---------------------------------------------------------------------


class ChargeRequest(msgspec.Struct, kw_only=True, frozen=True):
    """Take a card or wallet payment. Exactly one of ``card_number`` (as read by the terminal) and
    ``wallet_code`` (the customer's payment code) for a first attempt; a retry may omit both."""

    payment_id: uuid.UUID
    tender: ProviderTender
    amount: Fen
    currency: str = "CNY"
    card_number: CardNumber | None = None
    wallet_code: WalletCode | None = None
    reference: str = ""  # e.g. the checkout id this payment is for


class Payment(msgspec.Struct, kw_only=True, frozen=True):
    """A card or wallet payment as the server knows it."""

    id: uuid.UUID
    store_id: uuid.UUID
    tender: ProviderTender
    amount: int
    currency: str
    status: PaymentStatus
    provider: str
    decline_reason: str | None = None
    provider_ref: str | None = None
    token: str | None = None  # the provider's token for the card or wallet, never the number
    last4: str | None = None
    refunded: int = 0
    attempts: int = 0
    reference: str = ""
    created_at_ms: int = 0
    resolved_at_ms: int | None = None


class ResolvePayment(msgspec.Struct, kw_only=True, frozen=True):
    """A supervisor asks the provider now what became of an unresolved payment."""

    note: str = ""


class RefundRequest(msgspec.Struct, kw_only=True, frozen=True):
    refund_id: uuid.UUID
    amount: Fen
    reason: str = ""


class PaymentRefund(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    payment_id: uuid.UUID
    amount: int
    status: Literal["approved", "declined", "unknown"]
    provider_ref: str | None = None


class PaymentList(msgspec.Struct, kw_only=True, frozen=True):
    payments: list[Payment]


# --- shifts ---------------------------------------------------------------------------------------

MovementKind = Literal["float", "sale", "change", "refund", "top_up", "pay_in", "pay_out", "drop"]
"""``sale``, ``top_up`` and ``pay_in`` bring money in; ``change``, ``refund``, ``pay_out`` and
``drop`` (cash taken to the safe) take it out; ``float`` is the opening cash."""

ManualMovementKind = Literal["pay_in", "pay_out", "drop"]
ShiftStatus = Literal["open", "closed"]


class OpenShift(msgspec.Struct, kw_only=True, frozen=True):
    shift_id: uuid.UUID  # made on the till; a retry is a replay
    float_amount: FenOrZero
    till_id: uuid.UUID | None = None  # defaults to the till the cashier signed in on


class Shift(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    store_id: uuid.UUID
    till_id: uuid.UUID
    cashier_id: uuid.UUID
    status: ShiftStatus
    float_amount: int
    opened_at_ms: int
    closed_at_ms: int | None = None
    closed_by: uuid.UUID | None = None


class CashMovement(msgspec.Struct, kw_only=True, frozen=True):
    movement_id: uuid.UUID
    kind: ManualMovementKind
    amount: Fen
    note: str = ""


class Movement(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    shift_id: uuid.UUID
    kind: MovementKind
    tender: TenderKind
    amount: int  # signed: positive into the drawer or account, negative out
    reference: str = ""
    at_ms: int = 0


class TenderLine(msgspec.Struct, kw_only=True, frozen=True):
    """One tender's figures in an X or Z report.

    ``exceptions_held`` is cash a till took offline for a checkout the server then refused (an
    exception, see ``protocol.exceptions``): it is in the drawer, so it counts in ``expected`` until it
    is given back (``exceptions_given_back``). Neither is in ``pay_ins`` or ``pay_outs``.
    """

    tender: TenderKind
    sales: int = 0
    change: int = 0
    refunds: int = 0
    top_ups: int = 0
    pay_ins: int = 0
    pay_outs: int = 0
    drops: int = 0
    float_amount: int = 0
    exceptions_held: int = 0
    exceptions_given_back: int = 0
    expected: int = 0
    counted: int | None = None
    difference: int | None = None  # counted - expected: positive is over, negative is short
    count: int = 0  # movements of this tender


class ShiftReport(msgspec.Struct, kw_only=True, frozen=True):
    """X report (``final`` false, while open) or Z report (``final`` true, at close)."""

    shift: Shift
    final: bool
    tenders: list[TenderLine]
    refund_count: int = 0
    generated_at_ms: int = 0


class CloseShift(msgspec.Struct, kw_only=True, frozen=True):
    counted_cash: FenOrZero
    counted: dict[str, FenOrZero] = msgspec.field(default_factory=dict)  # other tenders, if counted
