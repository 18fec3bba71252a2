"""What the admin pages read that no other endpoint gives: the store at a glance, and today's dashboard.

Money is integer fen in the store's currency. "Today" is the store's current business day (its
timezone and ``business_day_end``), the same day tickets are filed under.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

import msgspec

DeviceHealthState = Literal["ok", "stale", "never_seen", "rejects", "pending", "revoked"]


class CounterInfo(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    code: str
    name_zh: str
    name_en: str
    brand: str
    concession: bool
    active: bool


class StoreOverview(msgspec.Struct, kw_only=True, frozen=True):
    """The caller's store and its counters (names for the pages' tables and pickers)."""

    id: uuid.UUID
    code: str
    name_zh: str
    name_en: str
    currency: str
    timezone: str
    counters: list[CounterInfo]


class HourSales(msgspec.Struct, kw_only=True, frozen=True):
    """Settled checkouts in one local hour of the business day (``hour`` 0-23, store time)."""

    hour: int
    sales: int
    checkouts: int


class CounterSales(msgspec.Struct, kw_only=True, frozen=True):
    """What one counter's tickets brought in today (every active counter is listed, zeros included)."""

    counter_id: uuid.UUID
    code: str
    name_zh: str
    name_en: str
    sales: int
    tickets: int


class DeviceHealth(msgspec.Struct, kw_only=True, frozen=True):
    """How one device is keeping in sync, as far as the server can tell.

    ``last_applied_seq`` is the highest command number applied for it; ``commands_rejected`` are its
    dead letters (``rejected_24h`` of them in the last 24 hours); ``events_behind`` is how many of the
    store's events it has not acknowledged yet (``None`` when it never streamed). ``health`` sums it
    up: revoked, pending (not enrolled), never_seen, rejects (dead letters in the last 24 h), stale
    (not seen for ``Dashboard.stale_after_minutes``) or ok.
    """

    device_id: uuid.UUID
    label: str
    kind: str
    state: str
    counter_id: uuid.UUID | None
    last_seen_at: datetime | None
    last_command_at: datetime | None
    last_applied_seq: int
    commands_applied: int
    commands_rejected: int
    rejected_24h: int
    events_behind: int | None
    health: DeviceHealthState


class Dashboard(msgspec.Struct, kw_only=True, frozen=True):
    """Today's figures of one store.

    ``sales`` is the total of checkouts settled today (gross), ``refunds`` what was refunded today,
    ``net_sales`` their difference; ``average_checkout`` is ``sales // checkouts`` (0 without any).
    ``tickets_paid`` counts tickets settled today, ``tickets_issued`` tickets of today's business day,
    ``open_tickets`` every ticket still waiting for payment (any day).
    """

    store_id: uuid.UUID
    store_code: str
    store_name_zh: str
    store_name_en: str
    currency: str
    business_day: date
    generated_at: datetime
    sales: int
    refunds: int
    net_sales: int
    checkouts: int
    average_checkout: int
    tickets_paid: int
    tickets_issued: int
    open_tickets: int
    unresolved_payments: int
    by_hour: list[HourSales]
    by_counter: list[CounterSales]
    devices: list[DeviceHealth]
    stale_after_minutes: int
    open_exceptions: int = 0  # the exception queue's open entries (conflicts with money to put right)
