"""Test shortcuts for tickets: demo catalog lookups, drafts that add up, commands, a second store."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import asyncpg
import nacl.signing

from protocol.ids import new_id
from protocol.tickets import IssueTicket, TicketDraft, TicketLine
from server.auth.guards import DeviceCaller
from tests.auth_helpers import activate_device

_numbers = itertools.count(1)


@dataclass
class Catalog:
    store_id: uuid.UUID
    counter_id: uuid.UUID
    products: list[asyncpg.Record]


async def catalog(conn: asyncpg.Connection, counter_code: str = "C-APL", store_code: str = "SH01") -> Catalog:
    row = await conn.fetchrow(
        "SELECT c.id, c.store_id FROM counter c JOIN store s ON s.id = c.store_id WHERE c.code = $1 AND s.code = $2",
        counter_code,
        store_code,
    )
    assert row is not None
    products = await conn.fetch(
        "SELECT id, sku, name_en, list_price, promo_price FROM product WHERE counter_id = $1 ORDER BY sku", row["id"]
    )
    return Catalog(row["store_id"], row["id"], list(products))


def draft(
    cat: Catalog,
    *,
    lines: int = 2,
    qty: int = 1,
    discount: int = 0,
    member_id: uuid.UUID | None = None,
    device_id: uuid.UUID | None = None,
    number: str | None = None,
) -> TicketDraft:
    made = []
    for i in range(lines):
        p = cat.products[i % len(cat.products)]
        unit = p["promo_price"] or p["list_price"]
        made.append(
            TicketLine(
                line_no=i + 1,
                product_id=p["id"],
                sku=p["sku"],
                name=p["name_en"],
                qty=qty,
                list_price=p["list_price"],
                unit_price=unit,
                promo=p["promo_price"] is not None,
                line_discount=discount,
                line_total=qty * unit - discount,
            )
        )
    return TicketDraft(
        id=new_id(),
        store_id=cat.store_id,
        counter_id=cat.counter_id,
        number=number or f"SH01-C-APL-H1-{next(_numbers):06d}",
        lines=made,
        total=sum(ln.line_total for ln in made),
        member_id=member_id,
        device_id=device_id,
        issued_at_ms=1_700_000_000_000,
    )


def issue(d: TicketDraft, seq: int) -> IssueTicket:
    return IssueTicket(command_id=new_id(), device_seq=seq, ticket=d)


async def device(conn: asyncpg.Connection, label: str) -> tuple[DeviceCaller, str]:
    """Activate a demo device; return it as the guard would see it, and its token."""
    device_id, token = await activate_device(conn, label)
    row = await conn.fetchrow("SELECT store_id, kind, counter_id FROM device WHERE id = $1", device_id)
    assert row is not None
    return DeviceCaller(device_id, row["store_id"], row["kind"], row["counter_id"]), token


async def second_store(conn: asyncpg.Connection, timezone: str = "Asia/Shanghai", day_end: str = "23:00") -> Catalog:
    """Another store of the chain with one counter, one product, one handheld ("Handheld BJ")."""
    fmt = await conn.fetchval("SELECT id FROM business_format LIMIT 1")
    store, counter = new_id(), new_id()
    await conn.execute(
        "INSERT INTO store (id, code, name_zh, name_en, format_id, timezone, business_day_end)"
        " VALUES ($1, 'BJ01', '北京店', 'Beijing', $2, $3, $4::text::time)",
        store,
        fmt,
        timezone,
        day_end,
    )
    await conn.execute(
        "INSERT INTO counter (id, store_id, code, name_zh, name_en) VALUES ($1, $2, 'C-APL', '苹果', 'Apple')",
        counter,
        store,
    )
    await conn.execute(
        "INSERT INTO product (id, store_id, sku, name_zh, name_en, category, counter_id, list_price)"
        " VALUES ($1, $2, 'BJ-IP16', 'iPhone', 'iPhone', 'phones', $3, 599900)",
        new_id(),
        store,
        counter,
    )
    await conn.execute(
        "INSERT INTO device (id, store_id, kind, label, counter_id) VALUES ($1, $2, 'handheld', 'Handheld BJ', $3)",
        new_id(),
        store,
        counter,
    )
    return await catalog(conn, "C-APL", "BJ01")


async def give_key(conn: asyncpg.Connection, device_id: uuid.UUID) -> bytes:
    """Enroll an Ed25519 key for the device (as enrollment would); return its 32-byte signing seed."""
    key = nacl.signing.SigningKey.generate()
    await conn.execute("UPDATE device SET public_key = $2 WHERE id = $1", device_id, bytes(key.verify_key))
    return bytes(key)
