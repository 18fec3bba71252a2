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
<<<<<<< HEAD


Progress = Callable[[int, int], None]

# Items per catalog page: the server's largest. Each page costs the server a count of the rows left,
# so fewer, larger pages load 100,000 items in about half the time of pages of 1,000 (bench/catalog_load.py).
PAGE = 5000


class CatalogLoader:
    """Loads pages from the stored cursor until the server has no more, then again every ``every`` seconds.
    A failed load is retried after ``retry`` seconds from where it stopped."""

    def __init__(
        self,
        store: DeviceStore,
        api: Callable[[], Api],
        progress: Progress,
        every: float = 300.0,
        retry: float = 5.0,
        page: int = PAGE,
    ) -> None:
        self._store = store
        self._api = api
        self._progress = progress
        self.every = every
        self.retry = retry
        self.page = page
        self.loads = 0  # completed loads, for tests and diagnostics
        self.loaded = asyncio.Event()

    async def load_once(self) -> int:
        api = self._api()
        try:
            return await api.load_catalog(self._store, self._progress, limit=self.page)
        finally:
            self._progress(0, 0)
            await api.aclose()

    async def run(self) -> None:
        while True:
            try:
                await self.load_once()
            except ApiError as exc:
                log.info("catalog load stopped: %s", exc.body.message)
                await asyncio.sleep(self.retry)
                continue
            self.loads += 1
            self.loaded.set()
            await asyncio.sleep(self.every)
=======
>>>>>>> main
