"""A second store for tests of store isolation: one counter, a product, a manager, a sales
person and a pending device, all created with plain SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from protocol.ids import new_id
from server.auth.passwords import hash_secret


@dataclass
class OtherStore:
    store_id: uuid.UUID
    counter_id: uuid.UUID
    product_id: uuid.UUID
    manager_id: uuid.UUID
    sales_id: uuid.UUID
    device_id: uuid.UUID


async def second_store(conn: asyncpg.Connection, code: str = "BJ02") -> OtherStore:
    fmt = await conn.fetchval("SELECT id FROM business_format LIMIT 1")
    if fmt is None:
        fmt = new_id()
        await conn.execute(
            "INSERT INTO business_format (id, code, name_zh, name_en) VALUES ($1, 'DEPT', '百货', 'Dept')", fmt
        )
    store, counter, product, manager, sales, device = (new_id() for _ in range(6))
    await conn.execute(
        "INSERT INTO store (id, code, name_zh, name_en, format_id) VALUES ($1, $2, '北京店', 'Beijing', $3)",
        store,
        code,
        fmt,
    )
    await conn.execute(
        "INSERT INTO counter (id, store_id, code, name_zh, name_en, brand) VALUES ($1, $2, 'C-X', 'X柜', 'X', 'X')",
        counter,
        store,
    )
    await conn.execute(
        "INSERT INTO product (id, store_id, sku, barcode, name_zh, name_en, category, counter_id, list_price)"
        " VALUES ($1, $2, 'X-1', '6909999900001', '北京商品', 'Beijing item', 'misc', $3, 1000)",
        product,
        store,
        counter,
    )
    for sid, scode, role, secret in (
        (manager, f"{code}M", "manager", "other-manager"),
        (sales, f"{code}S", "sales", None),
    ):
        await conn.execute(
            "INSERT INTO staff (id, store_id, code, name, role, pin_hash, password_hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            sid,
            store,
            scode,
            f"Other {role}",
            role,
            hash_secret("7777"),
            hash_secret(secret) if secret else None,
        )
    await conn.execute(
        "INSERT INTO device (id, store_id, kind, label) VALUES ($1, $2, 'handheld', 'Other handheld')", device, store
    )
    return OtherStore(store, counter, product, manager, sales, device)
