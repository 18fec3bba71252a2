"""A small known month of sales in the demo store (November 2026), every figure computable by hand.

K1  2 Nov 10:15  member A  C-APL: AirPods Pro 2 x1 at promo 1,699.00 + iPhone 16 x1 at 5,999.00
                           C-HUA: FreeBuds 5 x2 at promo 899.00
                 tenders: card 7,698.00, cash 1,798.00 (2,000.00 given, 202.00 change)
K2 10 Nov 15:15  no member C-HOM: kettle x3 at 199.00; cash 597.00
K3 20 Nov 19:15  member B  C-HUA: Watch 4 x1 at 2,499.00; wallet
K4 25 Nov 19:15  member A  C-APL: AirPods Pro 2 x1 at 1,899.00; stored value
R1 21 Nov        one FreeBuds of K1 back to the cash tender: 899.00
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import asyncpg
import pytest

from server.demo import DemoInfo
from server.settings import Settings
from tests.auth_helpers import bearer, token_for
from tests.server.reports.sales import SHANGHAI, Line, Sold, refund, sell


@dataclass
class November:
    store_id: uuid.UUID
    a: uuid.UUID
    b: uuid.UUID
    c: uuid.UUID
    k1: Sold
    k2: Sold
    k3: Sold
    k4: Sold
    refund_id: uuid.UUID


PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
async def november(demo: DemoInfo, conn: asyncpg.Connection) -> November:
    store = demo.store_id
    a, b, c = [
        r["id"] for r in await conn.fetch("SELECT id FROM member WHERE phone IN ('13900000001', '13900000002',"
                                          " '13900000003') ORDER BY phone")
    ]  # fmt: skip
    k1 = await sell(
        conn, store,
        [("C-APL", [Line("APL-APP2", 1, 169900, True), Line("APL-IP16", 1, 599900)]),
         ("C-HUA", [Line("HUA-FB5", 2, 89900, True)])],
        day=date(2026, 11, 2), hour=10, member_id=a, tenders=[("card", 769800), ("cash", 179800)], change=20200,
    )  # fmt: skip
    k2 = await sell(conn, store, [("C-HOM", [Line("HOM-KT01", 3, 19900)])], day=date(2026, 11, 10), hour=15,
                    tenders=[("cash", 59700)])  # fmt: skip
    k3 = await sell(conn, store, [("C-HUA", [Line("HUA-WT4", 1, 249900)])], day=date(2026, 11, 20), hour=19,
                    member_id=b, tenders=[("wallet", 249900)])  # fmt: skip
    k4 = await sell(conn, store, [("C-APL", [Line("APL-APP2", 1, 189900)])], day=date(2026, 11, 25), hour=19,
                    member_id=a, tenders=[("stored_value", 189900)])  # fmt: skip
    rid = await refund(
        conn, store, k1, ticket_index=1, line_no=1, qty=1, amount=89900, tender_index=1,
        at=datetime.combine(date(2026, 11, 21), time(11, 0), SHANGHAI),
    )  # fmt: skip
    return November(store, a, b, c, k1, k2, k3, k4, rid)


@pytest.fixture
async def manager(conn: asyncpg.Connection, settings: Settings, demo: DemoInfo) -> dict[str, str]:
    return bearer(await token_for(conn, "M001", settings.secret_key))


@pytest.fixture
async def admin(conn: asyncpg.Connection, settings: Settings, demo: DemoInfo) -> dict[str, str]:
    return bearer(await token_for(conn, "A001", settings.secret_key))


def q(**extra: Any) -> dict[str, Any]:
    return PERIOD | extra
