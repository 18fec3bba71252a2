"""``Catalog`` over the device store's catalog cache (works offline); ``client_common.adapters.catalog``
fills it."""

from __future__ import annotations

from client_common.store import DeviceStore
from handheld_app.presenters.ports import CatalogItem
from protocol import catalog_sync


def item(found: catalog_sync.CatalogItem) -> CatalogItem:
    return CatalogItem(
        product_id=found.id,
        sku=found.sku,
        barcode=found.barcode or "",
        name_zh=found.name_zh,
        name_en=found.name_en,
        list_price=found.list_price,
        promo_price=found.promo_price,
        counter_id=found.counter_id,
    )


class StoreCatalog:
    def __init__(self, store: DeviceStore) -> None:
        self._store = store

    def by_code(self, code: str) -> CatalogItem | None:
        found = self._store.find_product(code)
        return None if found is None else item(found)

    def search(self, text: str, limit: int) -> list[CatalogItem]:
        return [item(found) for found in self._store.search_products(text, limit)]
