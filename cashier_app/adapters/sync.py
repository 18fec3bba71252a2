"""The till's sync (``client_common.adapters.sync.DeviceSync``): ticket events feed the live queue, the
key directory holds the store's handhelds (ticket QRs verify offline), and the outbox of checkouts
settled offline is replayed whenever the link comes back (and every ``flush_every`` seconds)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from cashier_app.adapters.allowances import TillAllowanceBook
from cashier_app.adapters.checkouts import TillCheckouts
from cashier_app.adapters.events import StoreTicketEvents
from cashier_app.adapters.settings import TillSettingsCache
from client_common.adapters.identity import Device
from client_common.adapters.sync import DeviceSync, KeyDirectory
from client_common.api import ApiError
from client_common.connection import ConnectionFeed, DeadLetter
from client_common.i18n import translator
from client_common.store import DeviceStore
from client_common.transport import Backoff, Transport
from protocol.tickets import TicketEvent

log = logging.getLogger(__name__)

HANDHELD_KEYS = "handheld_keys"

translator.add({"en": {"conn.this_till": "This till"}, "zh": {"conn.this_till": "本收银台"}})


def handheld_keys(store: DeviceStore) -> KeyDirectory:
    """Public keys of this store's handhelds, cached so a customer's ticket QR verifies offline."""
    return KeyDirectory(store, ("handheld",), HANDHELD_KEYS)


class TillSync(DeviceSync):
    this_device = "conn.this_till"

    def __init__(
        self,
        device: Device,
        events: StoreTicketEvents,
        checkouts: TillCheckouts,
        feed: ConnectionFeed,
        keys: KeyDirectory,
        backoff: Callable[[], Backoff] = Backoff,
        catalog_every: float = 300.0,
        flush_every: float = 15.0,
        app_version: str = "till",
        settings: TillSettingsCache | None = None,
        allowances: TillAllowanceBook | None = None,
        **transport_options: Any,
    ) -> None:
        super().__init__(
            device,
            feed,
            keys,
            backoff=backoff,
            catalog_every=catalog_every,
            app_version=app_version,
            **transport_options,
        )
        self._events = events
        self.checkouts = checkouts
        self.flush_every = flush_every
        self.flushed = 0  # offline checkouts the server settled, for tests and diagnostics
        self.settings = settings
        self.allowances = allowances
        checkouts.changed = self.publish

    def attached(self, transport: Transport) -> None:
        self.spawn(self._flush_now_and_then(), "till-outbox")

    def on_event(self, event: TicketEvent) -> None:
        self._events.emit(event)
        if self.keys(event.ticket.device_id) is None and self.running:
            # A handheld enrolled since the last refresh: fetch its key now, so its customers' ticket
            # codes verify here even if the network drops before they reach the till.
            self.spawn(self._refresh_keys_once(), "keys-now")

    async def _refresh_keys_once(self) -> None:
        try:
            await self.keys.refresh(self._device)
        except ApiError as exc:
            log.info("device keys not refreshed: %s", exc.body.message)

    def on_online(self) -> None:
        if self.running:
            if self.settings is not None:  # the store's rules may have changed while we were away
                self.spawn(self.settings.refresh_quietly(), "till-settings")
            if self.allowances is not None:  # what the server still holds for this till
                self.spawn(self.allowances.refresh_quietly(), "till-allowances")
            self.spawn(self.flush(), "till-outbox-flush")

    async def flush(self) -> int:
        done = await self.checkouts.flush()
        self.flushed += done
        self.publish()
        if done and self.allowances is not None:  # the server's count now includes those spends
            await self.allowances.refresh_quietly()
        return done

    async def _flush_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            if self.online and self.checkouts.waiting():
                await self.flush()

    def waiting(self) -> int:
        return self.checkouts.waiting()

    def more_dead_letters(self) -> list[DeadLetter]:
        return self.checkouts.dead_letters()
