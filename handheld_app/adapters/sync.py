"""The handheld's sync (``client_common.adapters.sync.DeviceSync``): its ticket book submits through the
transport and redraws on every ticket event; the key directory holds the store's tills, so a paid
receipt verifies offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from client_common.adapters.identity import Device
from client_common.adapters.sync import DeviceSync, KeyDirectory
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.store import DeviceStore
from client_common.transport import Backoff, Status, Transport
from handheld_app.adapters.book import StoreTicketBook
from protocol.tickets import TicketEvent

TILL_KEYS = "till_keys"

translator.add({"en": {"conn.this_handheld": "This handheld"}, "zh": {"conn.this_handheld": "本机"}})


def till_keys(store: DeviceStore) -> KeyDirectory:
    """Public keys of this store's tills, cached in the device store so receipts verify offline."""
    return KeyDirectory(store, ("till",), TILL_KEYS)


class Sync(DeviceSync):
    this_device = "conn.this_handheld"

    def __init__(
        self,
        device: Device,
        book: StoreTicketBook,
        feed: ConnectionFeed,
        keys: KeyDirectory,
        backoff: Callable[[], Backoff] = Backoff,
        catalog_every: float = 300.0,
        app_version: str = "handheld",
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
        self._book = book
        book.on_change(self.publish)

    def attached(self, transport: Transport) -> None:
        self._book.submit = transport.submit

    def detached(self) -> None:
        self._book.submit = None

    def on_event(self, _event: TicketEvent) -> None:
        self._book.changed()

    def _on_status(self, status: Status) -> None:
        refused = self._status is None or status.dead_letters != self._status.dead_letters
        super()._on_status(status)
        if refused:  # My tickets shows a ticket the server refused, with its reason
            self._book.changed()
