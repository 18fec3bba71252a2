"""Members, their balances and statement, and the loyalty rules managers edit.

Amounts are integer minor units: fen for stored value and e-coin, whole points for points.
Personal data leaves the server masked only: phone ``138****5678``, national ID ``1101**********1234``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

Amount = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Positive = Annotated[int, msgspec.Meta(gt=0, le=10**12)]
Rate = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9]{6,15}$")]
CardNumber = Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z-]{4,40}$")]

AccountKind = Literal["points", "e_coin", "stored_value"]
Scope = Literal["chain", "format", "store"]


class MemberCodes:
    """Stable error codes of members and the ledger. Never rename one; add new ones."""

    INSUFFICIENT_BALANCE = "insufficient_balance"
    MOVEMENT_ID_REUSED = "movement_id_reused"
    PHONE_TAKEN = "phone_taken"
    CARD_TAKEN = "card_taken"
    MEMBER_MERGED = "member_merged"
    SAME_MEMBER = "same_member"
    OPEN_HOLDS = "open_holds"
    HOLD_CLOSED = "hold_closed"
    HOLD_EXPIRED = "hold_expired"
    CAPTURE_EXCEEDS_HOLD = "capture_exceeds_hold"
    PURCHASE_ALREADY_EARNED = "purchase_already_earned"
    ATTACH_WINDOW_PASSED = "attach_window_passed"
    NOTHING_TO_REVERSE = "nothing_to_reverse"
    REFUND_EXCEEDS_PURCHASE = "refund_exceeds_purchase"
    LINES_DO_NOT_ADD_UP = "lines_do_not_add_up"
    INVALID_NATIONAL_ID = "invalid_national_id"
    RULE_EXISTS = "earning_rule_exists"
    SCOPE_LOCKED = "account_scope_locked"
    MEMBER_NOT_FOUND = "member_not_found"


# --- members ---------------------------------------------------------------------------------------


class MemberNew(msgspec.Struct, kw_only=True, frozen=True):
    """Enrol a person. The national ID number is kept only as a keyed hash and a masked form."""

    name: Text
    phone: Phone
    national_id: str | None = None
    birthday: date | None = None
    consent_marketing: bool = False
    consent_sms: bool = False
    cards: list[CardNumber] = msgspec.field(default_factory=list)


class MemberLookup(msgspec.Struct, kw_only=True, frozen=True):
    """What the customer presents: one of phone, card number or member code (sent in a body, never in
    the address, so it does not land in access logs)."""

    phone: str | None = None
    card: str | None = None
    code: str | None = None


class MemberUpdate(msgspec.Struct, kw_only=True, frozen=True):
    """Change a member's profile; fields left out stay as they are."""

    name: Text | None = None
    phone: Phone | None = None
    national_id: str | None = None
    birthday: date | None = None
    consent_marketing: bool | None = None
    consent_sms: bool | None = None


class CardNew(msgspec.Struct, kw_only=True, frozen=True):
    number: CardNumber
    kind: Literal["card", "code"] = "card"


class MemberCard(msgspec.Struct, kw_only=True, frozen=True):
    number: str
    kind: str
    active: bool


class Member(msgspec.Struct, kw_only=True, frozen=True):
    """A member as staff see them: personal data masked."""

    id: uuid.UUID
    name: str
    phone_masked: str
    national_id_masked: str | None = None
    birthday: date | None = None
    home_store_id: uuid.UUID
    consent_marketing: bool = False
    consent_sms: bool = False
    tier: str | None = None
    state: str = "active"
    merged_into: uuid.UUID | None = None
    cards: list[MemberCard] = msgspec.field(default_factory=list)


class MergeRequest(msgspec.Struct, kw_only=True, frozen=True):
    """Two records found to be one person: ``absorbed`` folds into ``survivor`` with every entry."""

    survivor_id: uuid.UUID
    absorbed_id: uuid.UUID
    movement_id: uuid.UUID


# --- balances and statement ------------------------------------------------------------------------


class AccountBalance(msgspec.Struct, kw_only=True, frozen=True):
    kind: AccountKind
    store_id: uuid.UUID | None = None
    format_id: uuid.UUID | None = None
    available: int
    held: int = 0


class Balances(msgspec.Struct, kw_only=True, frozen=True):
    """What a member can spend at one store (``points``, ``e_coin``, ``stored_value``), plus every account."""

    member_id: uuid.UUID
    store_id: uuid.UUID
    tier: str | None
    points: int
    e_coin: int
    stored_value: int
    accounts: list[AccountBalance]


class StatementEntry(msgspec.Struct, kw_only=True, frozen=True):
    entry_id: int
    movement_id: uuid.UUID
    at: datetime
    account: AccountKind
    held: bool
    amount: int
    movement: str
    reason: str
    reference: str
    store_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None


class StatementPage(msgspec.Struct, kw_only=True, frozen=True):
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page (None: no more)."""

    entries: list[StatementEntry]
    next_cursor: int | None = None


# --- operations ------------------------------------------------------------------------------------


class TopUp(msgspec.Struct, kw_only=True, frozen=True):
    """Stored-value top-up taken in cash/card at a till during a shift."""

    movement_id: uuid.UUID
    amount: Positive
    till_id: uuid.UUID | None = None
    shift_id: uuid.UUID | None = None


class TopUpResult(msgspec.Struct, kw_only=True, frozen=True):
    movement_id: uuid.UUID
    member_id: uuid.UUID
    amount: int
    stored_value: int


class PurchaseLine(msgspec.Struct, kw_only=True, frozen=True):
    """One line of a purchase for earning: its paid amount in fen and whether it sold at a promotion price."""

    line_no: Annotated[int, msgspec.Meta(ge=1)]
    sku: str
    category: str
    amount: Amount
    promo: bool = False


class AttachPurchase(msgspec.Struct, kw_only=True, frozen=True):
    """补积分: credit a past purchase to a member from its receipt, once, within the store's window."""

    movement_id: uuid.UUID
    receipt_no: Text
    amount: Amount
    lines: list[PurchaseLine]
    purchased_at: datetime


class EarningResult(msgspec.Struct, kw_only=True, frozen=True):
    movement_id: uuid.UUID
    member_id: uuid.UUID
    reference: str
    points: int
    e_coin: int
    tier: str | None = None


class ReturnedLine(msgspec.Struct, kw_only=True, frozen=True):
    """A returned (part of a) purchase line: which line and how much of its amount in fen."""

    line_no: Annotated[int, msgspec.Meta(ge=1)]
    amount: Positive


class RefundResult(msgspec.Struct, kw_only=True, frozen=True):
    """Points and campaign e-coin taken back for returned lines; ``shortfall`` and ``e_coin_shortfall``
    are what the member had already spent (balances never go below zero)."""

    movement_id: uuid.UUID
    points: int
    shortfall: int = 0
    e_coin: int = 0
    e_coin_shortfall: int = 0


class HoldResult(msgspec.Struct, kw_only=True, frozen=True):
    hold_id: uuid.UUID
    kind: AccountKind
    amount: int
    captured: int
    state: str
    expires_at: datetime


class InvariantReport(msgspec.Struct, kw_only=True, frozen=True):
    """``ok`` when every balance equals the sum of its entries and every movement sums to zero."""

    ok: bool
    accounts_checked: int
    movements_checked: int
    problems: list[str]


class ExpiryResult(msgspec.Struct, kw_only=True, frozen=True):
    lots_expired: int
    amount: int


class TierRecompute(msgspec.Struct, kw_only=True, frozen=True):
    members_changed: int


# --- loyalty rules (managers) ----------------------------------------------------------------------


class EarningRuleNew(msgspec.Struct, kw_only=True, frozen=True):
    """Points per 100 yuan (100 = 1 point per yuan) for regular and promotion-price lines.

    Leave ``store_id``/``format_id``/``category`` empty to match everything; the most specific rule
    wins (store over format, and a category over none)."""

    store_id: uuid.UUID | None = None
    format_id: uuid.UUID | None = None
    category: str | None = None
    rate: Rate
    promo_rate: Rate


class EarningRule(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    store_id: uuid.UUID | None
    format_id: uuid.UUID | None
    category: str | None
    rate: int
    promo_rate: int
    active: bool


class RateChange(msgspec.Struct, kw_only=True, frozen=True):
    rate: Rate
    promo_rate: Rate


class TierDef(msgspec.Struct, kw_only=True, frozen=True):
    """A star level: reached at ``min_spend`` fen over the trailing 12 months; ``multiplier`` 150 = x1.5 points."""

    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,20}$")]
    name: Text
    min_spend: Amount
    multiplier: Rate


class CampaignNew(msgspec.Struct, kw_only=True, frozen=True):
    """Spend ``spend_threshold`` fen get ``bonus`` fen of e-coin, between the dates, in the stores listed."""

    name: Text
    starts_at: datetime
    ends_at: datetime
    spend_threshold: Positive
    bonus: Positive
    repeat: bool = False
    valid_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 90
    store_ids: list[uuid.UUID] | None = None
    ecoin_store_ids: list[uuid.UUID] | None = None
    ecoin_categories: list[str] | None = None


class Campaign(CampaignNew, kw_only=True, frozen=True):
    id: uuid.UUID
    active: bool = True


class LoyaltySettings(msgspec.Struct, kw_only=True, frozen=True):
    """``attach_days``: how many days after a purchase it can still be attached to a member."""

    attach_days: Annotated[int, msgspec.Meta(ge=0, le=365)]


class AccountScopeDef(msgspec.Struct, kw_only=True, frozen=True):
    kind: AccountKind
    scope: Scope


# --- offline spending allowance --------------------------------------------------------------------


class AllowanceGrant(msgspec.Struct, kw_only=True, frozen=True):
    """Reserve part of a member's balance for one till to spend while offline."""

    allowance_id: uuid.UUID
    member_id: uuid.UUID
    kind: AccountKind
    amount: Positive
    expires_at: datetime


class AllowanceSpend(msgspec.Struct, kw_only=True, frozen=True):
    """A spend the till made offline against its allowance, uploaded on sync; ``spend_id`` made on the till."""

    spend_id: uuid.UUID
    amount: Positive
    reference: str = ""


class Allowance(msgspec.Struct, kw_only=True, frozen=True):
    allowance_id: uuid.UUID
    member_id: uuid.UUID
    kind: AccountKind
    amount: int
    spent: int
    state: str
    expires_at: datetime
