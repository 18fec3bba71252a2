"""Manager reports: the JSON shapes of ``/api/admin/reports/*`` (the same rows are served as CSV).

Every report answers a ``Report*`` Struct with a ``scope`` (what was asked, resolved) and ``rows``: the
table the CSV form carries, one CSV line per row and one column per scalar field in declaration order
(lists of scalars are joined with ``|``). Money is integer fen; shares and ratios are fractions between
0 and 1 rounded to four places; areas are square metres. New fields are only ever added at the end.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

import msgspec

Bp = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
Days = Annotated[int, msgspec.Meta(ge=1, le=3660)]

CustomerState = Literal["prospect", "new", "repeat", "loyal", "lapsing", "lost"]
CUSTOMER_STATES: tuple[str, ...] = ("prospect", "new", "repeat", "loyal", "lapsing", "lost")
RfmSegment = Literal["champions", "loyal", "promising", "needs_attention", "at_risk", "hibernating"]
RFM_SEGMENTS: tuple[str, ...] = ("champions", "loyal", "promising", "needs_attention", "at_risk", "hibernating")


class ReportCodes:
    """Stable error codes of reports and marketing. Never rename one; add new ones."""

    BAD_PERIOD = "bad_period"
    BAD_THRESHOLDS = "bad_thresholds"
    SEGMENT_EMPTY = "segment_empty"
    SEGMENT_TOO_LARGE = "segment_too_large"
    NO_STAFF = "no_staff"
    TASK_CLOSED = "task_closed"
    NOT_YOUR_TASK = "not_your_task"


class Scope(msgspec.Struct, kw_only=True, frozen=True):
    """What the report covers: business days ``period_from``..``period_to`` inclusive, the stores."""

    period_from: date
    period_to: date
    store_ids: list[uuid.UUID]
    format_id: uuid.UUID | None = None


# --- category and brand analysis ------------------------------------------------------


class CategoryRow(msgspec.Struct, kw_only=True, frozen=True):
    """One category (or brand). ``tickets`` counts tickets with at least one line of it;
    ``floor_area_m2`` is the counters' area shared out by this key's part of each counter's sales."""

    key: str
    sales: int
    cost: int
    gross_profit: int
    gross_margin: float  # gross_profit / sales
    tickets: int
    average_ticket: int  # sales / tickets
    floor_area_m2: float
    sales_per_m2: int | None  # 坪效
    gross_profit_per_m2: int | None  # 坪利
    share: float  # of the period's sales


class CategoryReport(msgspec.Struct, kw_only=True, frozen=True):
    scope: Scope
    dimension: Literal["category", "brand"]
    rows: list[CategoryRow]
    total: CategoryRow


# --- promotion sensitivity ------------------------------------------------------------


class PromotionCategoryRow(msgspec.Struct, kw_only=True, frozen=True):
    category: str
    sales: int
    promo_sales: int
    regular_sales: int
    promo_share: float  # promo_sales / sales


class PromotionCategoryReport(msgspec.Struct, kw_only=True, frozen=True):
    scope: Scope
    rows: list[PromotionCategoryRow]
    total: PromotionCategoryRow


class PromotionMemberRow(msgspec.Struct, kw_only=True, frozen=True):
    member_id: uuid.UUID
    name: str  # masked unless the caller may see personal data
    sales: int
    promo_sales: int
    regular_sales: int
    promo_share: float
    transactions: int


class PromotionMemberReport(msgspec.Struct, kw_only=True, frozen=True):
    """Members ordered by promotion share (highest first), then sales; one page of them."""

    scope: Scope
    members_total: int
    average_promo_share: float  # over every member in scope, weighted by sales
    rows: list[PromotionMemberRow]


# --- sales structure ------------------------------------------------------------------


class StructureRow(msgspec.Struct, kw_only=True, frozen=True):
    """``dimension`` tender: ``key`` is the tender kind, ``count`` payments;
    hour: ``key`` is the local hour ``00``..``23``, ``count`` tickets;
    customer: ``key`` is ``member`` or ``non_member``, ``count`` transactions (checkouts)."""

    dimension: Literal["tender", "hour", "customer"]
    key: str
    sales: int
    count: int
    share: float  # of the dimension's total


class SalesStructureReport(msgspec.Struct, kw_only=True, frozen=True):
    scope: Scope
    sales: int
    rows: list[StructureRow]


# --- member contribution --------------------------------------------------------------


class ContributionRow(msgspec.Struct, kw_only=True, frozen=True):
    """One member (``format_code`` ``*``), or one member in one business format (split=format).
    ``transactions`` are checkouts; ``weighted_*`` multiply each format's figure by its weight."""

    member_id: uuid.UUID
    name: str
    format_code: str
    spend: int
    transactions: int
    average_ticket: int
    gross_profit: int
    regular_sales: int
    promo_sales: int
    regular_promo_ratio: float | None  # regular / promo; None without promotion sales
    weighted_spend: int
    weighted_gross_profit: int


class FormatWeight(msgspec.Struct, kw_only=True, frozen=True):
    format_id: uuid.UUID
    format_code: str
    weight: float


class ContributionReport(msgspec.Struct, kw_only=True, frozen=True):
    """Members ordered by weighted gross profit (highest first); one page of them."""

    scope: Scope
    split: Literal["member", "format"]
    weights: list[FormatWeight]
    members_total: int
    rows: list[ContributionRow]


# --- member potential -----------------------------------------------------------------


class Bucket(msgspec.Struct, kw_only=True, frozen=True):
    index: int
    period_from: date
    period_to: date


class PotentialRow(msgspec.Struct, kw_only=True, frozen=True):
    """A member's spend, transactions and average ticket in each bucket (oldest first). An indicator
    rises when its least-squares slope over the buckets is positive (buckets without purchases count
    as zero spend and transactions and have no average ticket); two rising of three flag the member."""

    member_id: uuid.UUID
    name: str
    spend: int
    transactions: int
    average_ticket: int
    spend_by_bucket: list[int]
    transactions_by_bucket: list[int]
    average_ticket_by_bucket: list[int | None]
    spend_rising: bool
    average_ticket_rising: bool
    frequency_rising: bool
    rising: int
    flagged: bool


class PotentialReport(msgspec.Struct, kw_only=True, frozen=True):
    """Flagged members first, then by spend; one page of them."""

    scope: Scope
    buckets: list[Bucket]
    members_total: int
    flagged_total: int
    rows: list[PotentialRow]


# --- RFM (textbook) ---------------------------------------------------------------------------------


class RfmRow(msgspec.Struct, kw_only=True, frozen=True):
    """Scores 1..5 are quintiles by percent rank among the members who bought in the period (ties
    share the lower score): recency by last purchase day (later is better), frequency by
    transactions, monetary by spend."""

    member_id: uuid.UUID
    name: str
    last_day: date
    recency_days: int  # from the last purchase to period_to
    frequency: int
    monetary: int
    r: int
    f: int
    m: int
    segment: RfmSegment


class RfmReport(msgspec.Struct, kw_only=True, frozen=True):
    scope: Scope
    members_total: int
    rows: list[RfmRow]


class RfmSegmentRow(msgspec.Struct, kw_only=True, frozen=True):
    segment: RfmSegment
    members: int
    share: float
    monetary: int
    average_recency_days: float
    average_frequency: float
    average_monetary: int


class RfmSegmentReport(msgspec.Struct, kw_only=True, frozen=True):
    scope: Scope
    members_total: int
    rows: list[RfmSegmentRow]


# --- customer states (textbook) ---------------------------------------------------------------------


class StateThresholds(msgspec.Struct, kw_only=True, frozen=True):
    """A store's customer-state thresholds. As of a day: no purchase ever is *prospect*; last purchase
    more than ``lost_days`` ago is *lost*, more than ``lapsing_days`` ago *lapsing*; otherwise, counting
    transactions in the last ``lookback_days``: at least ``loyal_min_transactions`` is *loyal*, at least
    ``repeat_min_transactions`` (or a first purchase before the lookback) is *repeat*, else *new*."""

    lookback_days: Days = 365
    repeat_min_transactions: Annotated[int, msgspec.Meta(ge=2, le=1000)] = 2
    loyal_min_transactions: Annotated[int, msgspec.Meta(ge=3, le=1000)] = 6
    lapsing_days: Days = 90
    lost_days: Days = 180


class StateRow(msgspec.Struct, kw_only=True, frozen=True):
    member_id: uuid.UUID
    name: str
    state: CustomerState
    first_day: date | None
    last_day: date | None
    days_since_last: int | None
    transactions: int  # in the lookback
    spend: int  # in the lookback


class StateCount(msgspec.Struct, kw_only=True, frozen=True):
    state: CustomerState
    members: int
    share: float


class StateReport(msgspec.Struct, kw_only=True, frozen=True):
    """Members known at the stores (enrolled or seen there), their state as of ``scope.period_to``."""

    scope: Scope
    thresholds: StateThresholds
    summary: list[StateCount]
    members_total: int  # of the listed state filter
    rows: list[StateRow]


class StateSummaryReport(msgspec.Struct, kw_only=True, frozen=True):
    scope: Scope
    thresholds: StateThresholds
    rows: list[StateCount]


# --- concession settlement --------------------------------------------------------------


class ConcessionRow(msgspec.Struct, kw_only=True, frozen=True):
    """What the store owes a concession counter for the period: net sales less the commission."""

    counter_id: uuid.UUID
    store_id: uuid.UUID
    code: str
    name: str
    brand: str
    tickets: int
    gross_sales: int
    refunds: int
    net_sales: int
    commission_bp: int
    commission: int
    payable: int


class ConcessionReport(msgspec.Struct, kw_only=True, frozen=True):
    scope: Scope
    rows: list[ConcessionRow]
    net_sales: int
    commission: int
    payable: int


# --- settings ---------------------------------------------------------------------------------------


class FormatWeightChange(msgspec.Struct, kw_only=True, frozen=True):
    weight: Annotated[float, msgspec.Meta(ge=0, le=100)]


class CommissionChange(msgspec.Struct, kw_only=True, frozen=True):
    rate_bp: Bp
