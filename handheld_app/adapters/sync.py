"""Sync while someone is signed in: the websocket transport on the app's asyncio loop, the catalog
loader, and the till key directory. Everything the bar shows is published to the ``ConnectionFeed``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from client_common.api import ApiError
from client_common.connection import ConnectionFeed, ConnectionState, DeadLetter
from client_common.i18n import translator
from client_common.store import DeviceStore
from client_common.transport import Backoff, Status, Transport
from handheld_app.adapters.book import StoreTicketBook
from handheld_app.adapters.catalog import CatalogLoader
from handheld_app.adapters.identity import Device
from protocol.tickets import IssueTicket, TicketEvent

log = logging.getLogger(__name__)

TILL_KEYS = "till_keys"

translator.add(
    {
        "en": {"conn.what_ticket": "Ticket {number}", "conn.this_device": "This handheld"},
        "zh": {"conn.what_ticket": "小票 {number}", "conn.this_device": "本机"},
    }
)


def ws_url(server_url: str) -> str:
    scheme, _, rest = server_url.partition("://")
    return ("wss://" if scheme == "https" else "ws://") + rest.rstrip("/") + "/ws"


class TillKeys:
    """Public keys of this store's tills, cached in the device store so receipts verify offline."""

    def __init__(self, store: DeviceStore) -> None:
        self._store = store

    def __call__(self, device_id: uuid.UUID) -> bytes | None:
        key = self._store.get(TILL_KEYS, {}).get(str(device_id))
        return None if key is None else base64.b64decode(key)

    async def refresh(self, device: Device) -> int:
        api = device.api()
        try:
            directory = await api.directory()
        finally:
            await api.aclose()
        keys = {str(d.device_id): d.public_key for d in directory.devices if d.kind == "till" and d.public_key}
        self._store.set(TILL_KEYS, keys)
        return len(keys)


class Sync:
    def __init__(
        self,
        device: Device,
        book: StoreTicketBook,
        feed: ConnectionFeed,
        till_keys: TillKeys,
        backoff: Callable[[], Backoff] = Backoff,
        catalog_every: float = 300.0,
        app_version: str = "handheld",
        **transport_options: Any,
    ) -> None:
        self._device = device
        self._store = device.store
        self._book = book
        self._feed = feed
        self._till_keys = till_keys
        self._backoff = backoff
        self._app_version = app_version
        self._options = transport_options
        self.transport: Transport | None = None
        self.catalog = CatalogLoader(self._store, device.api, self._catalog_progress, every=catalog_every)
        self._tasks: list[asyncio.Task[Any]] = []
        self._status: Status | None = None
        self._catalog: tuple[int, int] = (0, 0)
        self._failed = False  # a connection attempt failed since the last time we were online
        book.on_change(self.publish)

    @property
    def running(self) -> bool:
        return self.transport is not None

    async def start(self) -> None:
        """Start syncing in the background and return at once; does nothing while already running."""
        identity = self._device.identity
        if identity is None or self.transport is not None:
            return
        core = self._store.sync_client(identity.device_token, app_version=self._app_version)
        self.transport = Transport(
            ws_url(self._device.server_url),
            core,
            store=self._store,
            on_status=self._on_status,
            on_event=self._on_event,
            backoff=self._backoff(),
            sleep=self._wait_to_reconnect,
            **self._options,
        )
        self._book.submit = self.transport.submit
        self.transport.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.catalog.run(), name="catalog-load"),
            loop.create_task(self._refresh_till_keys(), name="till-keys"),
        ]

    async def stop(self) -> None:
        transport, self.transport = self.transport, None
        self._book.submit = None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if transport is not None:
            await transport.stop()
        self._status = None
        self._failed = False
        self.publish()

    async def _wait_to_reconnect(self, delay: float) -> None:
        self._failed = True
        self.publish()
        await asyncio.sleep(delay)

    async def _refresh_till_keys(self) -> None:
        while True:
            try:
                await self._till_keys.refresh(self._device)
                await asyncio.sleep(600)
            except ApiError as exc:
                log.info("till keys not refreshed: %s", exc.body.message)
                await asyncio.sleep(10)

    # --- what the bar shows -------------------------------------------------------------------------

    def _on_status(self, status: Status) -> None:
        self._status = status
        self.publish()

    def _on_event(self, _event: TicketEvent) -> None:
        self._book.changed()

    def _catalog_progress(self, done: int, total: int) -> None:
        self._catalog = (done, total)
        self.publish()

    def publish(self) -> None:
        status, transport = self._status, self.transport
        if status is not None and status.online:
            link, self._failed = "online", False
        elif transport is not None and not self._failed and not (status and status.stopped):
            link = "connecting"
        else:
            link = "offline"
        self._feed.update(
            ConnectionState(
                link=link,  # type: ignore[arg-type]
                outbox=self._store.outbox_count(),
                dead_letters=tuple(self._refusal(status) + self._dead_letters()),
                catalog_loaded=self._catalog[0],
                catalog_total=self._catalog[1],
            )
        )

    @staticmethod
    def _refusal(status: Status | None) -> list[DeadLetter]:
        """The server refused the device itself (revoked, app too old): shown like a dead letter, with
        what to do, because nothing is sent until a person acts."""
        if status is None or not status.stopped or status.problem is None:
            return []
        what = translator.tr("conn.this_device")
        return [
            DeadLetter(command_id=uuid.UUID(int=0), what=what, code=status.problem.code, message=status.problem.message)
        ]

    def _dead_letters(self) -> list[DeadLetter]:
        letters = []
        for letter in self._store.dead_letters():
            command = letter.command
            if isinstance(command, IssueTicket):
                number = command.ticket.number
            else:
                ticket = self._store.ticket(command.ticket_id)
                number = ticket.number if ticket else str(command.ticket_id)
            letters.append(
                DeadLetter(
                    command_id=command.command_id,
                    what=translator.tr("conn.what_ticket", number=number),
                    code=letter.error.code,
                    message=letter.error.message,
                )
            )
        return letters
