"""Precision marketing: member segments, their export, and service tasks for staff.

A segment is a filter evaluated when used, never a frozen list. Purchase conditions look at the
window ``window_from``..``window_to`` (business days, inclusive; default the last 365 days) in the
segment's stores; RFM scores are computed over the same window, customer states as of ``window_to``
with the store's thresholds. Conditions left out do not filter. Lists name members masked unless
the caller may see personal data (administrators).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from protocol.reports import CustomerState, RfmSegment

Fen = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Count = Annotated[int, msgspec.Meta(ge=0, le=10**6)]
Score = Annotated[int, msgspec.Meta(ge=1, le=5)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
TaskKind = Literal["call", "message", "visit"]
Outcome = Literal["reached", "no_answer", "declined", "interested", "purchased", "wrong_contact"]
OUTCOMES: tuple[str, ...] = ("reached", "no_answer", "declined", "interested", "purchased", "wrong_contact")


class SegmentFilter(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    window_from: date | None = None
    window_to: date | None = None
    store_id: uuid.UUID | None = None  # admins; a manager's segments are always their store's
    min_spend: Fen | None = None
    max_spend: Fen | None = None
    min_transactions: Count | None = None
    max_transactions: Count | None = None
    min_average_ticket: Fen | None = None
    max_average_ticket: Fen | None = None
    categories: list[Label] = msgspec.field(default_factory=list)  # bought any of them in the window
    brands: list[Label] = msgspec.field(default_factory=list)
    tiers: list[Label] = msgspec.field(default_factory=list)
    rfm_segments: list[RfmSegment] = msgspec.field(default_factory=list)
    min_r: Score | None = None
    min_f: Score | None = None
    min_m: Score | None = None
    states: list[CustomerState] = msgspec.field(default_factory=list)


class SegmentPreview(msgspec.Struct, kw_only=True, frozen=True):
    members: int
    window_from: date
    window_to: date
    sample: list[SegmentMember]  # the first few, masked as for the caller


class SegmentMember(msgspec.Struct, kw_only=True, frozen=True):
    """One row of a segment's member list (and of its CSV export)."""

    member_id: uuid.UUID
    name: str
    phone: str
    tier: str
    spend: int
    transactions: int
    average_ticket: int
    last_day: date | None
    consent_marketing: bool
    consent_sms: bool


class SegmentNew(msgspec.Struct, kw_only=True, frozen=True):
    name: Name
    filter: SegmentFilter


class Segment(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    store_id: uuid.UUID | None
    name: str
    filter: SegmentFilter
    created_at: datetime
    updated_at: datetime


# --- service tasks --------------------------------------------------------------------


class CampaignNew(msgspec.Struct, kw_only=True, frozen=True):
    """Turn a saved segment into one task per member, shared round-robin among ``staff_ids``. Calls
    and visits go to members who agreed to marketing, messages to those who agreed to SMS."""

    segment_id: uuid.UUID
    name: Name
    kind: TaskKind
    due_date: date
    staff_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
    store_id: uuid.UUID | None = None  # admins: which store's staff serve a chain-wide segment


class Campaign(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    store_id: uuid.UUID
    segment_id: uuid.UUID | None
    name: str
    kind: TaskKind
    due_date: date
    tasks: int
    skipped_without_consent: int
    created_at: datetime


class Task(msgspec.Struct, kw_only=True, frozen=True):
    """A task as the assigned staff member sees it: whom to contact and how."""

    id: uuid.UUID
    campaign_id: uuid.UUID
    campaign: str
    member_id: uuid.UUID
    member_name: str
    phone: str  # whole for the assignee, who has to reach the member
    staff_id: uuid.UUID
    kind: TaskKind
    due_date: date
    state: Literal["open", "done", "cancelled"]
    outcome: Outcome | None = None
    note: str = ""
    follow_up_of: uuid.UUID | None = None
    done_at: datetime | None = None


class FollowUp(msgspec.Struct, kw_only=True, frozen=True):
    due_date: date
    kind: TaskKind | None = None  # default: the same kind
    staff_id: uuid.UUID | None = None  # default: the same person


class TaskOutcome(msgspec.Struct, kw_only=True, frozen=True):
    outcome: Outcome
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    follow_up: FollowUp | None = None


class TaskResultRow(msgspec.Struct, kw_only=True, frozen=True):
    """Completion and results of a group of tasks (one staff member, or one campaign). ``converted``
    counts members who bought in the store on or after the day their task was done."""

    key: str  # staff code, or campaign id
    name: str
    tasks: int
    done: int
    open: int
    overdue: int
    completion: float
    reached: int
    no_answer: int
    declined: int
    interested: int
    purchased: int
    wrong_contact: int
    follow_ups: int
    converted: int
    converted_spend: int


class TaskResults(msgspec.Struct, kw_only=True, frozen=True):
    by: Literal["staff", "campaign"]
    as_of: date
    rows: list[TaskResultRow]
