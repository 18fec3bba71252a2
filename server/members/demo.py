"""Demo members with cards and real ledger movements, default earning rules, tiers and a campaign."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from protocol.ids import new_id
from protocol.members import MemberNew, PurchaseLine
from server.ledger import service as ledger
from server.loyalty import service as loyalty
from server.members import service as members

DEMO_ID_KEY = b"floorticket demo national id key"  # demo IDs are fictitious; real ones use the server key

# (name, phone, card, code, top-up fen)
DEMO_MEMBERS = [
    ("赵敏 Zhao Min", "13900000001", "M0001001", "QR-ZM-0001", 100_000),
    ("钱磊 Qian Lei", "13900000002", "M0001002", "QR-QL-0002", 0),
    ("孙丽 Sun Li", "13900000003", "M0001003", "QR-SL-0003", 20_000),
]

# (code, name, trailing 12-month spend fen, points multiplier %)
DEMO_TIERS = [
    ("star1", "一星 One star", 0, 100),
    ("star2", "二星 Two stars", 1_000_000, 120),
    ("star3", "三星 Three stars", 5_000_000, 150),
]


async def seed_demo_members(conn: asyncpg.Connection, store_id: uuid.UUID) -> list[uuid.UUID]:
    """Seed inside the caller's transaction; returns the demo member ids."""
    await conn.execute(
        "INSERT INTO earning_rule (id, rate, promo_rate) VALUES ($1, 100, 50)", new_id()
    )  # chain default: 1 point per yuan, half on promotion prices
    await conn.execute(
        "INSERT INTO earning_rule (id, category, rate, promo_rate) VALUES ($1, 'appliances', 200, 100)", new_id()
    )
    for code, name, spend, mult in DEMO_TIERS:
        await conn.execute(
            "INSERT INTO member_tier (code, name, min_spend, multiplier) VALUES ($1, $2, $3, $4)",
            code,
            name,
            spend,
            mult,
        )
    now = datetime.now(UTC)
    await conn.execute(
        "INSERT INTO loyalty_campaign (id, name, store_ids, starts_at, ends_at, spend_threshold, bonus, valid_days)"
        " VALUES ($1, '满2000送100电子币 Spend 2,000 get 100 e-coin', $2, $3, $4, 200000, 10000, 30)",
        new_id(),
        [store_id],
        now - timedelta(days=1),
        now + timedelta(days=60),
    )
    ids = []
    for name, phone, card, code, top_up in DEMO_MEMBERS:
        m = await members.enrol(
            conn, store_id=store_id, new=MemberNew(name=name, phone=phone, cards=[card]), id_key=DEMO_ID_KEY
        )
        await members.add_card(conn, store_id, m.id, code, "code")
        if top_up:
            await ledger.top_up(conn, movement_id=new_id(), store_id=store_id, member_id=m.id, amount=top_up)
        ids.append(m.id)
    # A past purchase for the first member: points by the rules and the campaign's e-coin.
    await loyalty.post_earning(
        conn,
        movement_id=new_id(),
        store_id=store_id,
        member_id=ids[0],
        reference="DEMO-RECEIPT-0001",
        lines=[
            PurchaseLine(line_no=1, sku="APL-IP16", category="phones", amount=599900),
            PurchaseLine(line_no=2, sku="HOM-KT01", category="small-appliances", amount=14900, promo=True),
        ],
    )
    return ids
