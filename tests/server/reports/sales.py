"""Paid tickets written the way a checkout writes them (ticket turned paid, checkout, tickets,
tenders in one transaction), so the fact tables are filled by their triggers, not by the test."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import asyncpg

from protocol.ids import new_id

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Line:
    sku: str
    qty: int
    unit_price: int
    promo: bool = False


@dataclass
class Sold:
    ticket_ids: list[uuid.UUID]
    checkout_id: uuid.UUID
    tender_ids: list[uuid.UUID] = field(default_factory=list)


_seq = 0


async def sell(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    tickets: list[tuple[str, list[Line]]],  # (counter code, lines) per ticket
    *,
    day: date,
    hour: int,
    member_id: uuid.UUID | None = None,
    tenders: list[tuple[str, int]],
    change: int = 0,
) -> Sold:
    """One checkout of ``tickets`` paid with ``tenders`` (kind, applied); cash may carry ``change``."""
    global _seq
    device = await conn.fetchval("SELECT id FROM device WHERE store_id = $1 ORDER BY kind, label LIMIT 1", store_id)
    settled = datetime.combine(day, time(hour, 15), SHANGHAI)
    ids: list[uuid.UUID] = []
    amounts: list[tuple[uuid.UUID, uuid.UUID, str, int]] = []
    checkout_id = new_id()
    for counter_code, lines in tickets:
        _seq += 1
        counter = await conn.fetchval(
            "SELECT id FROM counter WHERE store_id = $1 AND code = $2", store_id, counter_code
        )
        tid = new_id()
        total = sum(x.qty * x.unit_price for x in lines)
        number = f"T-{counter_code}-{_seq:06d}"
        await conn.execute(
            "INSERT INTO ticket (id, store_id, counter_id, device_id, number, total, currency, member_id, state,"
            " business_day, issue_command_id) VALUES ($1, $2, $3, $4, $5, $6, 'CNY', $7, 'issued', $8, $9)",
            tid, store_id, counter, device, number, total, member_id, day, new_id(),
        )  # fmt: skip
        for no, x in enumerate(lines, 1):
            prod = await conn.fetchrow("SELECT id, list_price, name_en FROM product WHERE sku = $1 AND store_id = $2",
                                       x.sku, store_id)  # fmt: skip
            await conn.execute(
                "INSERT INTO ticket_line (ticket_id, line_no, product_id, sku, name, qty, list_price, unit_price,"
                " promo, line_total) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                tid, no, prod["id"], x.sku, prod["name_en"], x.qty, prod["list_price"], x.unit_price, x.promo,
                x.qty * x.unit_price,
            )  # fmt: skip
        ids.append(tid)
        amounts.append((tid, counter, number, total))
    total = sum(a[3] for a in amounts)
    assert sum(a for _, a in tenders) == total
    sold = Sold(ticket_ids=ids, checkout_id=checkout_id)
    async with conn.transaction():
        # As the checkout service does: tickets first, then the checkout row and its tenders.
        await conn.execute(
            "UPDATE ticket SET state = 'paid', checkout_id = $2 WHERE id = ANY($1::uuid[])", ids, checkout_id
        )
        await conn.execute(
            "INSERT INTO checkout (id, store_id, mode, member_id, currency, total, tendered, change, request, result,"
            " settled_at) VALUES ($1, $2, 'till', $3, 'CNY', $4, $5, $6, '{}', '{}', $7)",
            checkout_id, store_id, member_id, total, total + change, change, settled,
        )  # fmt: skip
        for seq, (tid, counter, number, amount) in enumerate(amounts, 1):
            await conn.execute(
                "INSERT INTO checkout_ticket (checkout_id, state, ticket_id, seq, store_id, counter_id, number, amount)"
                " VALUES ($1, 'settled', $2, $3, $4, $5, $6, $7)",
                checkout_id, tid, seq, store_id, counter, number, amount,
            )  # fmt: skip
        for seq, (kind, applied) in enumerate(tenders, 1):
            extra = change if kind == "cash" else 0
            tender_id = new_id()
            await conn.execute(
                "INSERT INTO tender (id, checkout_id, seq, kind, tendered, applied, change) VALUES ($1, $2, $3, $4,"
                " $5, $6, $7)",
                tender_id, checkout_id, seq, kind, applied + extra, applied, extra,
            )  # fmt: skip
            sold.tender_ids.append(tender_id)
    return sold


async def refund(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    sold: Sold,
    *,
    ticket_index: int,
    line_no: int,
    qty: int,
    amount: int,
    tender_index: int,
    at: datetime,
) -> uuid.UUID:
    """A refund of part of one line back to one tender, written as the refund service writes it."""
    rid = new_id()
    tid = sold.ticket_ids[ticket_index]
    counter = await conn.fetchval("SELECT counter_id FROM ticket WHERE id = $1", tid)
    tender_id = sold.tender_ids[tender_index]
    kind = await conn.fetchval("SELECT kind FROM tender WHERE id = $1", tender_id)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO refund (id, checkout_id, store_id, amount, request, result, created_at)"
            " VALUES ($1, $2, $3, $4, $5, '{}', $6)",
            rid, sold.checkout_id, store_id, amount, json.dumps({"ticket": str(tid)}), at,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO refund_line (refund_id, ticket_id, line_no, counter_id, qty, amount)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            rid, tid, line_no, counter, qty, amount,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO refund_tender (refund_id, tender_id, kind, amount) VALUES ($1, $2, $3, $4)",
            rid, tender_id, kind, amount,
        )  # fmt: skip
        await conn.execute("UPDATE tender SET refunded = refunded + $2 WHERE id = $1", tender_id, amount)
        await conn.execute("UPDATE checkout SET refunded = refunded + $2 WHERE id = $1", sold.checkout_id, amount)
    return rid
