"""The loader that fills the device store's catalog cache: a full load on first start, deltas after, with
progress for the bar. The handheld searches the cache; the till names the lines of scanned ticket QRs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from client_common.api import Api, ApiError
from client_common.store import DeviceStore

log = logging.getLogger(__name__)


Progress = Callable[[int, int], None]

# Items per catalog page: the server's largest. The server counts the catalog on a download's first
# page only; fewer, larger pages still save round trips and device-store transactions (bench/catalog_load.py).
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
