"""The catalog as devices download it: ``GET /catalog/products?since=<cursor>&limit=<n>``.

Pages are ordered by the server's change order; ``next_cursor`` is the cursor for the following page
and, on the last page (``more`` false), the cursor to keep for the next delta load. This is the subset
of the server's product page a device reads; unknown fields are ignored, so the server may send more.
Items are upserted by id; ``version`` grows on every change, so an older copy never overwrites a newer one.
"""

from __future__ import annotations

import uuid

import msgspec


class CatalogItem(msgspec.Struct, kw_only=True, frozen=True):
    id: uuid.UUID
    sku: str
    barcode: str | None = None
    name_zh: str
    name_en: str
    category: str = ""
    brand: str = ""
    counter_id: uuid.UUID
    list_price: int
    promo_price: int | None = None
    active: bool = True
    version: int = 1

    @property
    def price(self) -> int:
        """What the line is charged per unit unless a supervisor overrides it."""
        return self.promo_price if self.promo_price is not None else self.list_price


class CatalogPage(msgspec.Struct, kw_only=True, frozen=True):
    items: list[CatalogItem]
    next_cursor: str = ""  # send as ``since`` for the next page, or for the next delta load
    more: bool = False  # another page follows now
    total: int = 0  # products of the store (for a progress bar)
    remaining: int = 0  # of those, how many come after the cursor asked with (this page included)
    # Both are counted on a download's first page and carried forward by later pages (in the cursor):
    # progress is ``done / (done before this page + remaining)``; the figure may grow when a product
    # changes during the download (it comes again at the end), and the last page's is exact.
