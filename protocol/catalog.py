"""The product catalog on the wire: full load and deltas by cursor, and manager edits.

A client loads the catalog page by page from an empty cursor, keeps the last ``next_cursor``, and
later asks for everything changed since it. Deactivated products come back with ``active=false``
(tombstones) so a client can drop them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

Fen = Annotated[int, msgspec.Meta(ge=0, le=10**12, description="integer minor units (fen)")]
Sku = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Barcode = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Short = Annotated[str, msgspec.Meta(max_length=80)]


class CatalogCodes:
    """Stable error codes of the catalog. Never rename one."""

    SKU_TAKEN = "sku_taken"
    BAD_CURSOR = "bad_cursor"
    VERSION_MISMATCH = "version_mismatch"


class Product(msgspec.Struct, kw_only=True):
    """A product as devices and managers see it. ``cost`` is filled only for managers."""

    id: uuid.UUID
    store_id: uuid.UUID
    sku: str
    barcode: str | None
    name_zh: str
    name_en: str
    category: str
    brand: str
    counter_id: uuid.UUID
    list_price: int
    promo_price: int | None
    active: bool
    version: int
    updated_at: datetime
    currency: str = "CNY"
    cost: int | None = None


class ProductPage(msgspec.Struct, kw_only=True):
    """One page of products in catalog order. Ask again with ``since=next_cursor`` while ``more``."""

    items: list[Product]
    next_cursor: str
    more: bool
    # Progress of a download (docs/protocol.md, "Catalog download"): counted on its first page and
    # carried forward in ``next_cursor`` by later pages.
    total: int  # products of the store matching the query, tombstones included
    remaining: int  # of those, how many come after the cursor asked with (this page included)


class ProductCreate(msgspec.Struct, kw_only=True):
    sku: Sku
    name_zh: Text
    name_en: Text
    category: Short
    counter_id: uuid.UUID
    list_price: Fen
    barcode: Barcode | None = None
    brand: Short | None = None  # defaults to the counter's brand
    promo_price: Fen | None = None
    cost: Fen = 0


class ProductUpdate(msgspec.Struct, kw_only=True):
    """Only the fields sent are changed. ``if_version`` refuses the change if someone else changed
    the product since you read it."""

    sku: Sku | msgspec.UnsetType = msgspec.UNSET
    barcode: Barcode | msgspec.UnsetType | None = msgspec.UNSET
    name_zh: Text | msgspec.UnsetType = msgspec.UNSET
    name_en: Text | msgspec.UnsetType = msgspec.UNSET
    category: Short | msgspec.UnsetType = msgspec.UNSET
    brand: Short | msgspec.UnsetType = msgspec.UNSET
    counter_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    list_price: Fen | msgspec.UnsetType = msgspec.UNSET
    promo_price: Fen | msgspec.UnsetType | None = msgspec.UNSET
    cost: Fen | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    if_version: int | None = None
