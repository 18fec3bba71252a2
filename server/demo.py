"""A demo store so a fresh start has something to show: counters, products, staff, devices."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from protocol.ids import new_id
from server.auth.passwords import hash_secret
from server.auth.tokens import digest
from server.history import seed_demo_history
from server.members.demo import seed_demo_members

DEMO_STORE_CODE = "SH01"

# (code, name, role, pin, password)
DEMO_STAFF = [
    ("S001", "王芳 Wang Fang", "sales", "1111", None),
    ("S002", "李娜 Li Na", "sales", "2222", None),
    ("C001", "张伟 Zhang Wei", "cashier", "3333", None),
    ("V001", "刘洋 Liu Yang", "supervisor", "4444", None),
    ("M001", "陈静 Chen Jing", "manager", "5555", "manager-demo"),
    ("A001", "系统管理员 Admin", "admin", "9999", "admin-demo"),
]

DEMO_COUNTERS = [
    ("C-APL", "苹果专柜", "Apple counter", "Apple", True, 42.0),
    ("C-HUA", "华为专柜", "Huawei counter", "Huawei", True, 38.0),
    ("C-SNY", "索尼专柜", "Sony counter", "Sony", True, 30.0),
    ("C-HOM", "家电自营", "Home appliances", "Store brand", False, 120.0),
]

# (sku, barcode, zh, en, category, counter code, list fen, promo fen or None, cost fen)
DEMO_PRODUCTS = [
    ("APL-IP16", "6901234500011", "iPhone 16 128GB", "iPhone 16 128GB", "phones", "C-APL", 599900, None, 520000),
    ("APL-APP2", "6901234500028", "AirPods Pro 2", "AirPods Pro 2", "audio", "C-APL", 189900, 169900, 140000),
    ("APL-MBA", "6901234500035", "MacBook Air 13", "MacBook Air 13", "computers", "C-APL", 799900, None, 690000),
    ("HUA-P70", "6901234500042", "华为 Pura 70", "Huawei Pura 70", "phones", "C-HUA", 549900, 499900, 450000),
    ("HUA-WT4", "6901234500059", "华为手表 Watch 4", "Huawei Watch 4", "wearables", "C-HUA", 249900, None, 180000),
    ("HUA-FB5", "6901234500066", "华为 FreeBuds 5", "Huawei FreeBuds 5", "audio", "C-HUA", 99900, 89900, 65000),
    (
        "SNY-XM5",
        "6901234500073",
        "索尼降噪耳机 WH-1000XM5",
        "Sony WH-1000XM5",
        "audio",
        "C-SNY",
        249900,
        219900,
        170000,
    ),
    ("SNY-A7C", "6901234500080", "索尼微单 A7C II", "Sony A7C II", "cameras", "C-SNY", 1399900, None, 1150000),
    ("SNY-TV55", "6901234500097", "索尼电视 55寸", "Sony TV 55in", "tv", "C-SNY", 699900, 649900, 560000),
    ("HOM-RF01", "6901234500103", "双门冰箱 380L", "Fridge 380L", "appliances", "C-HOM", 329900, None, 250000),
    ("HOM-WM01", "6901234500110", "滚筒洗衣机 10kg", "Washer 10kg", "appliances", "C-HOM", 279900, 259900, 200000),
    ("HOM-KT01", "6901234500127", "电热水壶", "Electric kettle", "small-appliances", "C-HOM", 19900, 14900, 9000),
]

# (label, kind, counter code)
DEMO_DEVICES = [
    ("Handheld Apple 1", "handheld", "C-APL"),
    ("Handheld Huawei 1", "handheld", "C-HUA"),
    ("Till 1", "till", None),
]


@dataclass
class DemoInfo:
    store_id: uuid.UUID
    created: bool
    staff: list[tuple[str, str, str, str, str | None]]
    enrollment_codes: list[tuple[str, str, str]]  # (label, kind, code)


async def seed_demo(conn: asyncpg.Connection, code_minutes: int = 24 * 60, history_tickets: int = 0) -> DemoInfo:
    """Create the demo store if the database has no store yet (with ``history_tickets`` paid tickets of
    sales history for the reports); always return fresh enrollment codes for demo devices still
    waiting to be enrolled."""
    created = False
    async with conn.transaction():
        store_id = await conn.fetchval("SELECT id FROM store WHERE code = $1", DEMO_STORE_CODE)
        if store_id is None and not await conn.fetchval("SELECT count(*) FROM store"):
            store_id = await _create(conn)
            await seed_demo_members(conn, store_id)
            if history_tickets:
                await seed_demo_history(conn, store_id, history_tickets)
            created = True
        codes = await _fresh_codes(conn, store_id, code_minutes) if store_id else []
    return DemoInfo(store_id=store_id, created=created, staff=DEMO_STAFF, enrollment_codes=codes)


async def _create(conn: asyncpg.Connection) -> uuid.UUID:
    fmt = new_id()
    await conn.execute(
        "INSERT INTO business_format (id, code, name_zh, name_en) VALUES ($1, 'DEPT', '百货', 'Department store')",
        fmt,
    )
    store = new_id()
    await conn.execute(
        "INSERT INTO store (id, code, name_zh, name_en, format_id)"
        " VALUES ($1, $2, '上海旗舰店', 'Shanghai flagship', $3)",
        store,
        DEMO_STORE_CODE,
        fmt,
    )
    counters: dict[str, uuid.UUID] = {}
    for code, zh, en, brand, concession, area in DEMO_COUNTERS:
        counters[code] = new_id()
        await conn.execute(
            "INSERT INTO counter (id, store_id, code, name_zh, name_en, brand, concession, floor_area_m2)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            counters[code],
            store,
            code,
            zh,
            en,
            brand,
            concession,
            area,
        )
    await conn.executemany(
        "INSERT INTO product (id, store_id, sku, barcode, name_zh, name_en, category, brand, counter_id,"
        " list_price, promo_price, cost) VALUES ($1, $2, $3, $4, $5, $6, $7,"
        " (SELECT brand FROM counter WHERE id = $8), $8, $9, $10, $11)",
        [
            (new_id(), store, sku, bc, zh, en, cat, counters[ctr], lp, pp, cost)
            for sku, bc, zh, en, cat, ctr, lp, pp, cost in DEMO_PRODUCTS
        ],
    )
    for code, name, role, pin, password in DEMO_STAFF:
        await conn.execute(
            "INSERT INTO staff (id, store_id, code, name, role, pin_hash, password_hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            new_id(),
            store,
            code,
            name,
            role,
            hash_secret(pin),
            hash_secret(password) if password else None,
        )
    for label, kind, ctr in DEMO_DEVICES:
        await conn.execute(
            "INSERT INTO device (id, store_id, kind, label, counter_id) VALUES ($1, $2, $3, $4, $5)",
            new_id(),
            store,
            kind,
            label,
            counters[ctr] if ctr else None,
        )
    return store


async def _fresh_codes(conn: asyncpg.Connection, store_id: uuid.UUID, minutes: int) -> list[tuple[str, str, str]]:
    manager = await conn.fetchval(
        "SELECT id FROM staff WHERE store_id = $1 AND role IN ('manager', 'admin') ORDER BY role DESC LIMIT 1",
        store_id,
    )
    rows = await conn.fetch(
        "SELECT id, label, kind FROM device WHERE store_id = $1 AND state = 'pending' ORDER BY label", store_id
    )
    out = []
    for row in rows:
        code = f"{secrets.randbelow(10**8):08d}"
        await conn.execute("DELETE FROM enrollment_code WHERE device_id = $1 AND used_at IS NULL", row["id"])
        await conn.execute(
            "INSERT INTO enrollment_code (code_hash, device_id, expires_at, created_by)"
            " VALUES ($1, $2, now() + $3::interval, $4)",
            digest(code),
            row["id"],
            timedelta(minutes=minutes),
            manager,
        )
        out.append((row["label"], row["kind"], code))
    return out
