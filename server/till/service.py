"""What a till reads about its store: the settings it applies before the server does, and its open
offline spending allowances."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from protocol.members import Allowance
from protocol.till import TillAllowances, TillSettings
from server.checkout.config import CheckoutConfig
from server.errors import NotFound
from server.till import repository as repo


async def settings(conn: asyncpg.Connection, store_id: uuid.UUID, config: CheckoutConfig) -> TillSettings:
    """The store's currency and time zone with the checkout rules the server applies now."""
    row = await conn.fetchrow(repo.STORE, store_id)
    if row is None:
        raise NotFound("store", store_id)
    return TillSettings(
        store_id=row["id"],
        store_code=row["code"],
        store_name_zh=row["name_zh"],
        store_name_en=row["name_en"],
        currency=row["currency"].strip(),
        timezone=row["timezone"],
        points_per_yuan=config.points_per_yuan,
        refund_approval_limit=config.refund_approval_limit,
        fetched_at=datetime.now(UTC),
    )


async def allowances(conn: asyncpg.Connection, store_id: uuid.UUID, device_id: uuid.UUID) -> TillAllowances:
    """The allowances still open for this till (what it may spend offline, by its own count)."""
    rows = await conn.fetch(repo.OPEN_ALLOWANCES, device_id, store_id)
    return TillAllowances(
        allowances=[
            Allowance(
                allowance_id=r["id"],
                member_id=r["member_id"],
                kind=r["kind"],
                amount=int(r["amount"]),
                spent=int(r["captured"]),
                state=r["state"],
                expires_at=r["expires_at"],
            )
            for r in rows
        ]
    )
