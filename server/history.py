"""Demo sales history: a year of paid tickets across stores, counters and members, at a chosen size.

Members have habits: how often they come, how big their baskets are, how much they wait for
promotion prices, which counters they like, and whether they are becoming regulars, drifting away,
new this year or already gone, so every report has something to find. Rows go in with COPY; the
sales facts are written alongside, as the database would derive them. Seeded random: the same arguments
give the same history.
"""

from __future__ import annotations

import asyncio
import gc
import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

CHUNK = 50_000  # tickets per COPY round

# Extra stores, counters and products for chain-sized histories: (code, zh, en, brand, concession, m², products)
# with products as (sku suffix, zh, en, category, list fen, promo fen or None, cost fen).
COUNTERS: list[tuple[str, str, str, str, bool, float, list[tuple[str, str, str, str, int, int | None, int]]]] = [
    ("APL", "苹果专柜", "Apple", "Apple", True, 45.0, [
        ("IP", "iPhone", "iPhone", "phones", 599900, None, 520000),
        ("AP", "AirPods", "AirPods", "audio", 129900, 109900, 90000),
        ("MB", "MacBook", "MacBook", "computers", 899900, 849900, 760000),
    ]),
    ("HUA", "华为专柜", "Huawei", "Huawei", True, 40.0, [
        ("PH", "华为手机", "Huawei phone", "phones", 499900, 459900, 410000),
        ("WT", "华为手表", "Huawei watch", "wearables", 199900, 169900, 140000),
        ("FB", "华为耳机", "FreeBuds", "audio", 89900, 69900, 55000),
    ]),
    ("LAN", "兰蔻专柜", "Lancome", "Lancome", True, 25.0, [
        ("SR", "精华", "Serum", "cosmetics", 108000, 92000, 45000),
        ("LP", "口红", "Lipstick", "cosmetics", 32000, 27000, 11000),
    ]),
    ("NIK", "耐克专柜", "Nike", "Nike", True, 60.0, [
        ("RN", "跑鞋", "Running shoes", "shoes", 89900, 69900, 42000),
        ("TS", "运动T恤", "Sports tee", "apparel", 29900, 19900, 11000),
    ]),
    ("HOM", "家电自营", "Home appliances", "Store brand", False, 150.0, [
        ("RF", "冰箱", "Fridge", "appliances", 329900, 299900, 250000),
        ("KT", "电水壶", "Kettle", "small-appliances", 19900, 14900, 9000),
    ]),
    ("FOD", "食品自营", "Food hall", "Store brand", False, 80.0, [
        ("TE", "茶叶礼盒", "Tea gift box", "food", 39900, 29900, 22000),
        ("CK", "月饼", "Mooncakes", "food", 19800, 15800, 9000),
    ]),
]  # fmt: skip

TENDERS = (("wallet", 40), ("card", 33), ("cash", 15), ("stored_value", 6), ("points", 3), ("ecoin", 3))
MEMBER_TENDERS = [k for k, w in TENDERS for _ in range(w)]
GUEST_TENDERS = [k for k in MEMBER_TENDERS if k not in ("stored_value", "points", "ecoin")]
HOURS = [(10, 5), (11, 8), (12, 11), (13, 10), (14, 8), (15, 8), (16, 8), (17, 8), (18, 9), (19, 11), (20, 9), (21, 5)]
HOUR_OF = [hour for hour, w in HOURS for _ in range(w)]
COUNTERS_PER_CHECKOUT = [1] * 62 + [2] * 28 + [3] * 10
LINES_PER_TICKET = [1] * 65 + [2] * 25 + [3] * 10


@dataclass
class Counter:
    id: uuid.UUID
    code: str
    products: list[tuple[uuid.UUID, str, str, int, int | None, str, str, int]]
    # id, sku, name, list, promo, category, brand, cost


@dataclass
class Store:
    id: uuid.UUID
    format_id: uuid.UUID
    device_id: uuid.UUID
    tz: ZoneInfo
    counters: list[Counter]


@dataclass
class Habit:
    """One member's way of shopping."""

    id: uuid.UUID
    home: int  # store index
    weight: float  # how often, relative to others
    basket: float  # lines per ticket multiplier
    promo: float  # chance of buying at the promotion price when there is one
    likes: tuple[int, int, int]  # preferred counter indexes
    shape: str  # stable | rising | falling | new | gone
    start: float  # for new: first moment (0..1 of the period); for gone: last moment
    tier: str | None = None


@dataclass
class Generated:
    tickets: int
    checkouts: int
    lines: int
    members: int
    seconds: float


def _ids(rng: random.Random, base_ms: int) -> Callable[[], uuid.UUID]:
    """Time-ordered ids (UUIDv7 layout) from the seeded generator: cheap and index-friendly."""
    counter = [0]

    def make() -> uuid.UUID:
        counter[0] += 1
        ms = base_ms + counter[0] // 64
        return uuid.UUID(
            int=(ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | rng.getrandbits(62)
        )

    return make


async def _ensure_stores(conn: asyncpg.Connection, n: int, new_id: Callable[[], uuid.UUID]) -> None:
    have = await conn.fetchval("SELECT count(*) FROM store")
    if have >= n:
        return
    fmt = await conn.fetchval("SELECT id FROM business_format ORDER BY code LIMIT 1")
    if fmt is None:
        fmt = new_id()
        await conn.execute(
            "INSERT INTO business_format (id, code, name_zh, name_en) VALUES ($1, 'DEPT', '百货', 'Department store')",
            fmt,
        )
    for i in range(have, n):
        store = new_id()
        code = f"H{i + 1:02d}"
        await conn.execute(
            "INSERT INTO store (id, code, name_zh, name_en, format_id) VALUES ($1, $2, $3, $4, $5)",
            store, code, f"历史门店{i + 1}", f"History store {i + 1}", fmt,
        )  # fmt: skip
        for ccode, zh, en, brand, concession, area, products in COUNTERS:
            counter = new_id()
            await conn.execute(
                "INSERT INTO counter (id, store_id, code, name_zh, name_en, brand, concession, floor_area_m2)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                counter, store, f"C-{ccode}", zh, en, brand, concession, area,
            )  # fmt: skip
            for sku, pzh, pen, cat, lp, pp, cost in products:
                await conn.execute(
                    "INSERT INTO product (id, store_id, sku, name_zh, name_en, category, brand, counter_id,"
                    " list_price, promo_price, cost) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    new_id(), store, f"{ccode}-{sku}", pzh, pen, cat, brand, counter, lp, pp, cost,
                )  # fmt: skip


async def _stores(
    conn: asyncpg.Connection, store_ids: list[uuid.UUID] | None, new_id: Callable[[], uuid.UUID]
) -> list[Store]:
    rows = await conn.fetch(
        "SELECT id, format_id, timezone FROM store WHERE active AND ($1::uuid[] IS NULL OR id = ANY($1)) ORDER BY code",
        store_ids,
    )
    out = []
    for s in rows:
        device = await conn.fetchval(
            "SELECT id FROM device WHERE store_id = $1 AND kind = 'handheld' ORDER BY created_at LIMIT 1", s["id"]
        )
        if device is None:
            device = new_id()
            await conn.execute(
                "INSERT INTO device (id, store_id, kind, label, state) VALUES ($1, $2, 'handheld', 'History handheld',"
                " 'revoked')",
                device, s["id"],
            )  # fmt: skip
        counters = []
        for c in await conn.fetch(
            "SELECT id, code, brand FROM counter WHERE store_id = $1 AND active ORDER BY code", s["id"]
        ):
            products = [
                (p["id"], p["sku"], p["name_en"], p["list_price"], p["promo_price"], p["category"],
                 p["brand"] or c["brand"], p["cost"])
                for p in await conn.fetch(
                    "SELECT id, sku, name_en, list_price, promo_price, category, brand, cost FROM product"
                    " WHERE counter_id = $1 AND active ORDER BY sku",
                    c["id"],
                )
            ]  # fmt: skip
            if products:
                counters.append(Counter(c["id"], c["code"], products))
        if counters:
            out.append(Store(s["id"], s["format_id"], device, ZoneInfo(s["timezone"]), counters))
    return out


def _habit(rng: random.Random, member_id: uuid.UUID, stores: int) -> Habit:
    roll = rng.random()
    shape = "stable"
    start = 0.0
    if roll < 0.2:
        shape = "rising"
    elif roll < 0.35:
        shape = "falling"
    elif roll < 0.47:
        shape, start = "new", rng.uniform(0.3, 0.95)
    elif roll < 0.6:
        shape, start = "gone", rng.uniform(0.05, 0.7)
    return Habit(
        id=member_id,
        home=rng.randrange(stores),
        weight=math.exp(rng.gauss(0, 0.9)),
        basket=rng.choice((1.0, 1.0, 1.3, 1.8)),
        promo=rng.betavariate(1.2, 2.5),
        likes=(rng.randrange(8), rng.randrange(8), rng.randrange(8)),
        shape=shape,
        start=start,
    )


def _moment(rng: random.Random, h: Habit | None) -> float:
    """When in the period (0..1) a visit happens, following the member's shape."""
    while True:
        t = rng.random()
        if h is None or h.shape == "stable":
            return t
        if h.shape == "rising" and rng.random() < (0.2 + 1.6 * t) / 1.8:
            return t
        if h.shape == "falling" and rng.random() < (1.8 - 1.6 * t) / 1.8:
            return t
        if h.shape == "new":
            return h.start + (1 - h.start) * t
        if h.shape == "gone":
            return h.start * t


async def _members(
    conn: asyncpg.Connection, rng: random.Random, n: int, stores: list[Store], new_id: Callable[[], uuid.UUID]
) -> list[Habit]:
    first = await conn.fetchval("SELECT count(*) FROM member WHERE phone LIKE '170%'")
    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
    tiers = [r["code"] for r in await conn.fetch("SELECT code FROM member_tier ORDER BY min_spend")]
    habits = []
    rows = []
    now = datetime.now(UTC)
    for i in range(n):
        h = _habit(rng, new_id(), len(stores))
        if tiers:
            h.tier = tiers[min(len(tiers) - 1, int(h.weight * h.basket / 1.5))]
        habits.append(h)
        name = rng.choice(surnames) + rng.choice(given) + (rng.choice(given) if rng.random() < 0.5 else "")
        rows.append((
            h.id, stores[h.home].id, name, f"170{first + i:08d}", rng.random() < 0.7, rng.random() < 0.5,
            h.tier, "active", now,
        ))  # fmt: skip
    await conn.copy_records_to_table(
        "member",
        records=rows,
        columns=["id", "home_store_id", "name", "phone", "consent_marketing", "consent_sms", "tier_code", "state",
                 "created_at"],
    )  # fmt: skip
    return habits


async def generate(
    conn: asyncpg.Connection,
    *,
    tickets: int,
    members: int,
    stores: int = 1,
    days: int = 365,
    seed: int = 1,
    store_ids: list[uuid.UUID] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Generated:
    """Write ``tickets`` paid tickets over the ``days`` days before today for ``members`` new members.

    The sales facts are written with the rows (the triggers are off for this session). Runs in one
    transaction of its own. ``stores`` adds stores with counters and products until the chain has
    that many (ignored when ``store_ids`` names the stores to use).
    """
    say = progress or (lambda _: None)
    began = time.monotonic()
    # Millions of small tuples: the cyclic collector would rescan them again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return await _generate(conn, tickets, members, stores, days, seed, store_ids, say, began)
    finally:
        if collecting:
            gc.enable()


async def _generate(
    conn: asyncpg.Connection,
    tickets: int,
    members: int,
    stores: int,
    days: int,
    seed: int,
    store_ids: list[uuid.UUID] | None,
    say: Callable[[str], None],
    began: float,
) -> Generated:
    rng = random.Random(seed)
    new_id = _ids(rng, int(time.time() * 1000) - days * 86_400_000)
    async with conn.transaction():
        # The facts are built once at the end. A superuser skips row triggers (and their queued
        # deferred events) altogether; anyone else has them return at once.
        await conn.execute("SET LOCAL floorticket.analytics_bulk = 'on'")
        if await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("SET LOCAL work_mem = '256MB'")
        if store_ids is None:
            await _ensure_stores(conn, stores, new_id)
        chain = await _stores(conn, store_ids, new_id)
        if not chain:
            raise RuntimeError("No store with counters and products to make a history for.")
        habits = await _members(conn, rng, members, chain, new_id)
        say(f"  {len(chain)} store(s), {members:,} members")
        today = datetime.now(chain[0].tz).date()
        first_day = today - timedelta(days=days)
        made = _Made()
        # Ticket numbers go on from any history already there (a second run, or the demo's own).
        made.seq = await conn.fetchval("SELECT count(*) FROM ticket WHERE number LIKE 'H-%'")
        cum = _accumulate([h.weight for h in habits])

        def chunk(size: int) -> _Rows:
            rows = _Rows()
            while rows.tickets < size:
                h = rng.choices(habits, cum_weights=cum)[0] if habits and rng.random() < 0.68 else None
                _checkout(rng, new_id, chain, h, first_day, days, rows, made, size - rows.tickets)
            return rows

        # The next chunk is made in a thread while the database takes the previous one.
        done = 0
        pending: asyncio.Task[_Rows] | None = asyncio.create_task(asyncio.to_thread(chunk, min(CHUNK, tickets)))
        while pending is not None:
            rows = await pending
            done += rows.tickets
            pending = (
                asyncio.create_task(asyncio.to_thread(chunk, min(CHUNK, tickets - done))) if done < tickets else None
            )
            await rows.copy(conn)
            made.tickets += rows.tickets
            made.lines += len(rows.line)
            say(f"  {done:,} / {tickets:,} tickets ({time.monotonic() - began:.0f} s)")
        await conn.copy_records_to_table("member_store", records=sorted(made.seen), columns=["member_id", "store_id"])
        await conn.copy_records_to_table(
            "sales_member_day",
            records=[(*key, *acc) for key, acc in made.member_days.items()],
            columns=["member_id", "store_id", "day", "tickets", "visits", "amount", "cost", "promo_amount"],
        )
        await conn.execute("SET LOCAL session_replication_role = origin")
        for table in ("ticket", "ticket_line", "checkout", "tender", "member", "member_store", "sales_ticket_fact",
                      "sales_line_fact", "sales_tender_fact", "sales_member_day"):  # fmt: skip
            await conn.execute(f"ANALYZE {table}")
    seconds = time.monotonic() - began
    say(f"  done in {seconds:.0f} s")
    return Generated(made.tickets, made.checkouts, made.lines, members, seconds)


def _accumulate(values: list[float]) -> list[float]:
    out, total = [], 0.0
    for v in values:
        total += v
        out.append(total)
    return out


class _Made:
    def __init__(self) -> None:
        self.tickets = 0
        self.checkouts = 0
        self.lines = 0
        self.seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
        self.seq = 0
        # (member, store, day) -> [tickets, visits, amount, cost, promo amount]: sales_member_day
        self.member_days: dict[tuple[uuid.UUID, uuid.UUID, date], list[int]] = {}


class _Rows:
    def __init__(self) -> None:
        self.ticket: list[tuple[object, ...]] = []
        self.line: list[tuple[object, ...]] = []
        self.checkout: list[tuple[object, ...]] = []
        self.checkout_ticket: list[tuple[object, ...]] = []
        self.tender: list[tuple[object, ...]] = []
        # The sales facts, as analytics_record_sales would derive them (a test holds them to it).
        self.line_fact: list[tuple[object, ...]] = []
        self.ticket_fact: list[tuple[object, ...]] = []
        self.tender_fact: list[tuple[object, ...]] = []

    @property
    def tickets(self) -> int:
        return len(self.ticket)

    async def copy(self, conn: asyncpg.Connection) -> None:
        await conn.copy_records_to_table(
            "ticket", records=self.ticket,
            columns=["id", "store_id", "counter_id", "device_id", "number", "total", "currency", "member_id", "state",
                     "issued_at_ms", "business_day", "checkout_id", "issue_command_id", "created_at", "updated_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "ticket_line", records=self.line,
            columns=["ticket_id", "line_no", "product_id", "sku", "name", "qty", "list_price", "unit_price", "promo",
                     "line_total"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "checkout", records=self.checkout,
            columns=["id", "store_id", "mode", "state", "member_id", "currency", "total", "tendered", "change",
                     "request", "result", "settled_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "checkout_ticket", records=self.checkout_ticket,
            columns=["checkout_id", "state", "ticket_id", "seq", "store_id", "counter_id", "number", "amount"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "tender", records=self.tender,
            columns=["id", "checkout_id", "seq", "kind", "tendered", "applied", "change"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "sales_line_fact", records=self.line_fact,
            columns=["ticket_id", "line_no", "store_id", "format_id", "counter_id", "member_id", "day", "category",
                     "brand", "promo", "qty", "amount", "cost", "category_first", "brand_first"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "sales_ticket_fact", records=self.ticket_fact,
            columns=["ticket_id", "store_id", "format_id", "counter_id", "member_id", "checkout_id", "day", "hour",
                     "tickets", "visits", "amount", "cost", "promo_amount"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "sales_tender_fact", records=self.tender_fact,
            columns=["tender_id", "checkout_id", "store_id", "day", "kind", "payments", "amount"],
        )  # fmt: skip


def _day_weight(d: date) -> float:
    w = 1.5 if d.weekday() >= 5 else 1.0
    if (d.month == 11 and d.day <= 11) or (d.month == 12 and d.day >= 20) or (d.month == 10 and d.day <= 7):
        w *= 1.8  # Double 11, the year-end and National Day holidays
    return w


def _promo_day(d: date) -> bool:
    return d.weekday() >= 5 or (d.month == 11 and d.day <= 11) or (d.month == 10 and d.day <= 7)


def _checkout(
    rng: random.Random,
    new_id: Callable[[], uuid.UUID],
    chain: list[Store],
    h: Habit | None,
    first_day: date,
    days: int,
    rows: _Rows,
    made: _Made,
    room: int,
) -> None:
    while True:
        t = _moment(rng, h)
        day = first_day + timedelta(days=min(days - 1, int(t * days)))
        if rng.random() < _day_weight(day) / 2.7:
            break
    store = chain[h.home if h and rng.random() < 0.9 else rng.randrange(len(chain))]
    hour = rng.choice(HOUR_OF)
    settled = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=store.tz)
    n = min(room, rng.choice(COUNTERS_PER_CHECKOUT), len(store.counters))
    if h is not None:
        liked = [store.counters[i % len(store.counters)] for i in h.likes]
        picks = [rng.choice(liked) if rng.random() < 0.7 else rng.choice(store.counters) for _ in range(n)]
        counters = list({c.code: c for c in picks}.values())
        made.seen.add((h.id, store.id))
    else:
        counters = rng.sample(store.counters, n)
    promo_chance = (h.promo if h else 0.3) * (1.4 if _promo_day(day) else 0.6)
    checkout_id = new_id()
    member_id = h.id if h else None
    total = 0
    for seq, counter in enumerate(counters, 1):
        made.seq += 1
        ticket_id = new_id()
        number = f"H-{counter.code}-{made.seq:08d}"
        amount = cost = promo_amount = 0
        firsts: set[str] = set()
        lines = max(1, round(rng.choice(LINES_PER_TICKET) * (h.basket if h else 1.0)))
        for no in range(1, lines + 1):
            pid, sku, name, lp, pp, category, brand, unit_cost = rng.choice(counter.products)
            promo = pp is not None and rng.random() < promo_chance
            price = pp if promo and pp is not None else lp
            qty = 1 if rng.random() < 0.88 else 2
            rows.line.append((ticket_id, no, pid, sku, name, qty, lp, price, promo, qty * price))
            cat_first, brand_first = "c" + category not in firsts, "b" + brand not in firsts
            firsts.update(("c" + category, "b" + brand))
            rows.line_fact.append((
                ticket_id, no, store.id, store.format_id, counter.id, member_id, day, category, brand, promo, qty,
                qty * price, qty * unit_cost, int(cat_first), int(brand_first),
            ))  # fmt: skip
            amount += qty * price
            cost += qty * unit_cost
            promo_amount += qty * price if promo else 0
        state = "released" if rng.random() < 0.92 else "paid"
        rows.ticket.append((
            ticket_id, store.id, counter.id, store.device_id, number, amount, "CNY", member_id, state,
            int(settled.timestamp() * 1000) - 600_000, day, checkout_id, new_id(), settled, settled,
        ))  # fmt: skip
        rows.checkout_ticket.append((checkout_id, "settled", ticket_id, seq, store.id, counter.id, number, amount))
        rows.ticket_fact.append((
            ticket_id, store.id, store.format_id, counter.id, member_id, checkout_id, day, hour, 1, int(seq == 1),
            amount, cost, promo_amount,
        ))  # fmt: skip
        if member_id is not None:
            acc = made.member_days.setdefault((member_id, store.id, day), [0, 0, 0, 0, 0])
            acc[0] += 1
            acc[1] += int(seq == 1)
            acc[2] += amount
            acc[3] += cost
            acc[4] += promo_amount
        total += amount
    first = rng.choice(MEMBER_TENDERS if h is not None else GUEST_TENDERS)
    split = [total]
    if total > 20000 and rng.random() < 0.1:
        part = rng.randrange(1, total // 100) * 100
        split = [part, total - part]
    change_total = 0
    for seq, applied in enumerate(split, 1):
        kind = first if seq == 1 else "cash"
        tendered = applied
        if kind == "cash" and applied % 10000:
            tendered = (applied // 10000 + 1) * 10000
        change = tendered - applied
        change_total += change
        tender_id = new_id()
        rows.tender.append((tender_id, checkout_id, seq, kind, tendered, applied, change))
        rows.tender_fact.append((tender_id, checkout_id, store.id, day, kind, 1, applied))
    rows.checkout.append((
        checkout_id, store.id, "till", "settled", member_id, "CNY", total, total + change_total, change_total,
        "{}", "{}", settled,
    ))  # fmt: skip
    made.checkouts += 1


async def seed_demo_history(conn: asyncpg.Connection, store_id: uuid.UUID, tickets: int = 3000) -> Generated:
    """A small history for the demo store so the reports show something on the first start."""
    return await generate(conn, tickets=tickets, members=max(50, tickets // 12), store_ids=[store_id])
