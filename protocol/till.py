"""What a cashier station reads about its store, and keeps for when the network is down.

``TillSettings`` are the rules the till checks before the server does (what points are worth, the
refund amount above which a supervisor approves, the currency); ``TillAllowances`` are the offline
spending allowances the server holds for this till (see docs/ledger.md). Both come with the till's
device token and are cached on the till, so they still apply offline.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from protocol.members import Allowance


class TillCodes:
    """Stable error codes of the till's own rules in a checkout. Never rename one; add new ones."""

    ALLOWANCE_NOT_FOR_TENDER = "allowance_not_for_this_tender"
    TERMINAL_APPROVAL_BAD = "terminal_approval_incomplete"
    TERMINAL_APPROVAL_NOT_CARD = "terminal_approval_only_for_card"


class TillSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The store's settings a till needs, as the server applies them now.

    ``points_per_yuan``: how many points pay one yuan when points are a tender (100: a point per fen).
    ``refund_approval_limit``: refunds above this many fen (counting a checkout's earlier refunds) need a
    supervisor's staff code and PIN. New fields get defaults (old tills ignore them).
    """

    store_id: uuid.UUID
    store_code: str
    store_name_zh: str = ""
    store_name_en: str = ""
    currency: str = "CNY"
    timezone: str = "Asia/Shanghai"
    points_per_yuan: int = 100
    refund_approval_limit: int = 50_000
    fetched_at: datetime | None = None


class TillAllowances(msgspec.Struct, kw_only=True, frozen=True):
    """This till's open offline spending allowances (granted through ``POST /api/device/allowances``)."""

    allowances: list[Allowance] = msgspec.field(default_factory=list)
