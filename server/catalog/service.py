"""The product catalog: full load and deltas for devices, edits for managers.

Order is ``(version, id)``. Every insert or change of a product takes a new version from one
sequence under a per-store lock held to commit (trigger in migration 0002), so a client that asks
for "everything after the last version I saw" never misses a change that committed late.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec

from protocol.catalog import CatalogCodes, Product, ProductCreate, ProductPage, ProductUpdate
from protocol.ids import new_id
from server.audit import record
from server.catalog import repository as repo
from server.errors import AppError, Conflict, NotFound

NIL = uuid.UUID(int=0)
MAX_LIMIT = 5000


def encode_cursor(version: int, product_id: uuid.UUID, counts: tuple[int, int] | None = None) -> str:
    """``version.id``, and for the next page of a download ``version.id.total.remaining`` (the progress
    figures carried forward, so later pages need no count)."""
    plain = f"{version}.{product_id}"
    return plain if counts is None else f"{plain}.{counts[0]}.{counts[1]}"


def decode_cursor(cursor: str | None) -> tuple[tuple[int, uuid.UUID], tuple[int, int] | None]:
    """``((version, id), (total, remaining) or None)``; empty means the start of the catalog."""
    if not cursor:
        return (0, NIL), None
    try:
        parts = cursor.split(".")
        if len(parts) not in (2, 4):
            raise ValueError(cursor)
        after = (int(parts[0]), uuid.UUID(parts[1]))
        if len(parts) == 2:
            return after, None
        total, remaining = int(parts[2]), int(parts[3])
        if total < 0 or remaining < 0:
            raise ValueError(cursor)
        return after, (total, remaining)
    except ValueError:
        raise AppError(
            CatalogCodes.BAD_CURSOR,
            "The catalog cursor is not one this server gave out; start a full load without `since`.",
            details={"field": "since"},
        ) from None


def to_product(row: asyncpg.Record, currency: str, with_cost: bool) -> Product:
    return Product(
        id=row["id"],
        store_id=row["store_id"],
        sku=row["sku"],
        barcode=row["barcode"],
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        category=row["category"],
        brand=row["brand"],
        counter_id=row["counter_id"],
        list_price=row["list_price"],
        promo_price=row["promo_price"],
        active=row["active"],
        version=row["version"],
        updated_at=row["updated_at"],
        currency=currency,
        cost=row["cost"] if with_cost else None,
    )


async def products(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    *,
    since: str | None,
    limit: int,
    query: str | None,
    with_cost: bool,
) -> ProductPage:
    """One page of the store's products after ``since`` (tombstones included), optionally searched.

    Only the first page of a download (no cursor, or a plain ``version.id`` cursor kept from an
    earlier load) counts the products (a scan of the store's catalog); every later page reads its
    own rows only (``limit + 1`` of them, the extra one tells ``more``) and carries the progress
    figures forward in ``next_cursor``: remaining = the previous remaining − the items sent. A
    product changed or added during the download comes again at its end with its new version; the
    figures then grow to what the page itself proves still follows (its items, plus one while
    ``more``), and the last page (``more`` false) always says exactly ``remaining = len(items)``.
    """
    after, carried = decode_cursor(since)
    query = query.strip() if query else None
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await repo.page(conn, store_id, after, query or None, limit + 1)
        total, remaining = carried if carried is not None else await repo.counts(conn, store_id, after, query or None)
        currency = await repo.store_currency(conn, store_id)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [to_product(r, currency, with_cost) for r in rows]
    if not more:
        # Nothing follows this page: its items are exactly what remained.
        total, remaining = max(0, total + len(items) - remaining), len(items)
    elif remaining <= len(items):
        # Changed or added during the download: at least one more row follows this page.
        grown = len(items) + 1 - remaining
        total, remaining = total + grown, remaining + grown
    if rows:
        last = (rows[-1]["version"], rows[-1]["id"])
        next_cursor = encode_cursor(*last, (total, remaining - len(items)) if more else None)
    else:
        next_cursor = encode_cursor(*after)
    return ProductPage(items=items, next_cursor=next_cursor, more=more, total=total, remaining=remaining)


async def product(conn: asyncpg.Connection, store_id: uuid.UUID, product_id: uuid.UUID, with_cost: bool) -> Product:
    row = await repo.get(conn, product_id)
    if row is None or row["store_id"] != store_id:
        raise NotFound("product", product_id)
    return to_product(row, await repo.store_currency(conn, store_id), with_cost)


def _sku_taken(sku: str) -> Conflict:
    return Conflict(
        f"The SKU {sku!r} is already used by another product of this store.", CatalogCodes.SKU_TAKEN, field="sku"
    )


async def create(
    conn: asyncpg.Connection, store_id: uuid.UUID, staff_id: uuid.UUID, device_id: uuid.UUID | None, body: ProductCreate
) -> Product:
    """Add a product to the store's catalog; it gets the next catalog version."""
    async with conn.transaction():
        brand = await repo.counter_brand(conn, body.counter_id, store_id)
        if brand is None:
            raise NotFound("counter", body.counter_id)
        try:
            async with conn.transaction():
                row = await repo.insert(
                    conn,
                    new_id(),
                    store_id,
                    body.sku,
                    body.barcode,
                    body.name_zh,
                    body.name_en,
                    body.category,
                    body.brand if body.brand is not None else brand,
                    body.counter_id,
                    body.list_price,
                    body.promo_price,
                    body.cost,
                )
        except asyncpg.UniqueViolationError:
            raise _sku_taken(body.sku) from None
        await record(
            conn,
            store_id=store_id,
            staff_id=staff_id,
            device_id=device_id,
            action="product.created",
            object_type="product",
            object_id=row["id"],
            details={"sku": body.sku, "list_price": body.list_price, "promo_price": body.promo_price},
        )
        currency = await repo.store_currency(conn, store_id)
    return to_product(row, currency, True)


async def update(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    staff_id: uuid.UUID,
    device_id: uuid.UUID | None,
    product_id: uuid.UUID,
    body: ProductUpdate,
) -> Product:
    """Change the fields sent; the product gets a new catalog version (deactivating makes a tombstone)."""
    changes: dict[str, Any] = {f: getattr(body, f) for f in repo.UPDATABLE if getattr(body, f) is not msgspec.UNSET}
    async with conn.transaction():
        row = await repo.get(conn, product_id, for_update=True)
        if row is None or row["store_id"] != store_id:
            raise NotFound("product", product_id)
        if body.if_version is not None and body.if_version != row["version"]:
            raise Conflict(
                "Someone changed this product since you read it; reload it and make your change again.",
                CatalogCodes.VERSION_MISMATCH,
                field="if_version",
                version=row["version"],
            )
        if "counter_id" in changes and await repo.counter_brand(conn, changes["counter_id"], store_id) is None:
            raise NotFound("counter", changes["counter_id"])
        changes = {k: v for k, v in changes.items() if v != row[k]}
        if changes:
            try:
                async with conn.transaction():
                    row = await repo.update(conn, product_id, changes)
            except asyncpg.UniqueViolationError:
                raise _sku_taken(changes.get("sku", row["sku"])) from None
            await record(
                conn,
                store_id=store_id,
                staff_id=staff_id,
                device_id=device_id,
                action="product.changed",
                object_type="product",
                object_id=product_id,
                details={k: str(v) if isinstance(v, uuid.UUID) else v for k, v in changes.items()}
                | {"version": row["version"]},
            )
        currency = await repo.store_currency(conn, store_id)
    return to_product(row, currency, True)
