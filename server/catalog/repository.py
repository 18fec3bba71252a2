"""SQL for the product catalog. Versions are set by the ``product_version`` trigger (migration 0002)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

COLUMNS = """
p.id, p.store_id, p.sku, p.barcode, p.name_zh, p.name_en, p.category, p.brand, p.counter_id, p.list_price,
p.promo_price, p.cost, p.active, p.version, p.updated_at
"""

# $4: escaped LIKE pattern of the search text (NULL: no search), $5: the raw text for an exact barcode.
MATCHES = """
($4::text IS NULL
 OR p.sku ILIKE $4 || '%' OR p.barcode = $5 OR p.name_zh ILIKE '%' || $4 || '%' OR p.name_en ILIKE '%' || $4 || '%')
"""

PAGE = f"""
SELECT {COLUMNS} FROM product p
WHERE p.store_id = $1 AND (p.version, p.id) > ($2, $3) AND {MATCHES}
ORDER BY p.version, p.id
LIMIT $6
"""

COUNTS = f"""
SELECT count(*) AS total, count(*) FILTER (WHERE (p.version, p.id) > ($2, $3)) AS remaining
FROM product p
WHERE p.store_id = $1 AND {MATCHES}
"""

GET = f"SELECT {COLUMNS} FROM product p WHERE p.id = $1"
GET_FOR_UPDATE = f"SELECT {COLUMNS} FROM product p WHERE p.id = $1 FOR UPDATE"
STORE_CURRENCY = "SELECT currency FROM store WHERE id = $1"
COUNTER_BRAND = "SELECT brand FROM counter WHERE id = $1 AND store_id = $2"

INSERT = f"""
INSERT INTO product AS p (id, store_id, sku, barcode, name_zh, name_en, category, brand, counter_id, list_price,
                          promo_price, cost)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING {COLUMNS}
"""

# Column names come from this fixed set only, never from the request.
UPDATABLE = (
    "sku",
    "barcode",
    "name_zh",
    "name_en",
    "category",
    "brand",
    "counter_id",
    "list_price",
    "promo_price",
    "cost",
    "active",
)


def like_pattern(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def page(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    after: tuple[int, uuid.UUID],
    query: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to ``limit`` products after the cursor in catalog order (an index range: costs the page only)."""
    pattern = like_pattern(query) if query else None
    return await conn.fetch(PAGE, store_id, after[0], after[1], pattern, query, limit)


async def counts(
    conn: asyncpg.Connection, store_id: uuid.UUID, after: tuple[int, uuid.UUID], query: str | None
) -> tuple[int, int]:
    """(total, remaining after the cursor) for the query: a scan of the store's products, so once per download."""
    pattern = like_pattern(query) if query else None
    row = await conn.fetchrow(COUNTS, store_id, after[0], after[1], pattern, query)
    assert row is not None
    return row["total"], row["remaining"]


async def get(conn: asyncpg.Connection, product_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_FOR_UPDATE if for_update else GET, product_id)


async def store_currency(conn: asyncpg.Connection, store_id: uuid.UUID) -> str:
    currency = await conn.fetchval(STORE_CURRENCY, store_id)
    return str(currency or "CNY")


async def counter_brand(conn: asyncpg.Connection, counter_id: uuid.UUID, store_id: uuid.UUID) -> str | None:
    """The counter's brand, or None when the counter is not in that store."""
    brand: str | None = await conn.fetchval(COUNTER_BRAND, counter_id, store_id)
    return brand


async def insert(conn: asyncpg.Connection, *values: Any) -> asyncpg.Record:
    row = await conn.fetchrow(INSERT, *values)
    assert row is not None
    return row


async def update(conn: asyncpg.Connection, product_id: uuid.UUID, changes: dict[str, Any]) -> asyncpg.Record:
    if not changes or not set(changes) <= set(UPDATABLE):
        raise ValueError(f"cannot update product columns {sorted(changes)}")
    names = list(changes)
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE product AS p SET {sets} WHERE p.id = $1 RETURNING {COLUMNS}", product_id, *(changes[n] for n in names)
    )
    assert row is not None
    return row
