"""Sync while someone is signed in: the websocket transport on the app's asyncio loop, the catalog loader
and the key directory of the store's devices. Everything the connection bar shows is published to the
``ConnectionFeed``. Each app subclasses ``DeviceSync`` for what only it does with events and commands.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from client_common.adapters.catalog import CatalogLoader
from client_common.adapters.identity import Device
from client_common.api import ApiError
from client_common.connection import ConnectionFeed, ConnectionState, DeadLetter
from client_common.i18n import translator
from client_common.store import DeviceStore
from client_common.transport import Backoff, Status, Transport
from protocol.tickets import IssueTicket, TicketEvent

log = logging.getLogger(__name__)

translator.add(
    {
        "en": {"conn.what_ticket": "Ticket {number}", "conn.this_device": "This device"},
        "zh": {"conn.what_ticket": "小票 {number}", "conn.this_device": "本机"},
    }
)


def ws_url(server_url: str) -> str:
    scheme, _, rest = server_url.partition("://")
    return ("wss://" if scheme == "https" else "ws://") + rest.rstrip("/") + "/ws"


class KeyDirectory:
    """Public keys of this store's devices of some kinds, cached in the device store so signed codes
    verify offline: a handheld keeps the tills' (receipts), a till the handhelds' (ticket QRs) and its own."""

    def __init__(self, store: DeviceStore, kinds: tuple[str, ...], setting: str) -> None:
        self._store = store
        self._kinds = kinds
        self._setting = setting

    def __call__(self, device_id: uuid.UUID) -> bytes | None:
        key = self._store.get(self._setting, {}).get(str(device_id))
        return None if key is None else base64.b64decode(key)

    def counter_of(self, device_id: uuid.UUID) -> uuid.UUID | None:
        counter = self._store.get(self._setting + "_counters", {}).get(str(device_id))
        return None if counter is None else uuid.UUID(counter)

    async def refresh(self, device: Device) -> int:
        api = device.api()
        try:
            directory = await api.directory()
        finally:
            await api.aclose()
        chosen = [d for d in directory.devices if d.kind in self._kinds and d.public_key]
        self._store.set_many(
            {
                self._setting: {str(d.device_id): d.public_key for d in chosen},
                self._setting + "_counters": {str(d.device_id): str(d.counter_id) for d in chosen if d.counter_id},
            }
        )
        return len(chosen)


class DeviceSync:
    """The transport, the catalog loader and the key refresher of one device, started on sign-in."""

    this_device = "conn.this_device"  # how the bar names this device when the server refuses it

    def __init__(
        self,
        device: Device,
        feed: ConnectionFeed,
        keys: KeyDirectory,
        backoff: Callable[[], Backoff] = Backoff,
        catalog_every: float = 300.0,
        app_version: str = "",
        keys_every: float = 600.0,
        **transport_options: Any,
    ) -> None:
        self._device = device
        self._store = device.store
        self._feed = feed
        self.keys = keys
        self._backoff = backoff
        self._app_version = app_version
        self._keys_every = keys_every
        self._options = transport_options
        self.transport: Transport | None = None
        self.catalog = CatalogLoader(self._store, device.api, self._catalog_progress, every=catalog_every)
        self._tasks: list[asyncio.Task[Any]] = []
        self._status: Status | None = None
        self._catalog: tuple[int, int] = (0, 0)
        self._failed = False  # a connection attempt failed since the last time we were online

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
            on_event=self.on_event,
            backoff=self._backoff(),
            sleep=self._wait_to_reconnect,
            **self._options,
        )
        self.attached(self.transport)
        self.transport.start()
        self.spawn(self.catalog.run(), "catalog-load")
        self.spawn(self._refresh_keys(), "keys")

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A background task that lives until ``stop()``."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks = [t for t in self._tasks if not t.done()] + [task]
        return task

    async def stop(self) -> None:
        transport, self.transport = self.transport, None
        self.detached()
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

    async def _refresh_keys(self) -> None:
        while True:
            try:
                await self.keys.refresh(self._device)
                await asyncio.sleep(self._keys_every)
            except ApiError as exc:
                log.info("device keys not refreshed: %s", exc.body.message)
                await asyncio.sleep(min(10.0, self._keys_every))

    # --- what each app adds -------------------------------------------------------------------------

    def attached(self, transport: Transport) -> None:
        """The transport is made and about to start."""

    def detached(self) -> None:
        """The transport is going away."""

    def on_event(self, event: TicketEvent) -> None:
        """A ticket event from the store's log (already written to the device store)."""

    def on_online(self) -> None:
        """The link came up (again)."""

    def waiting(self) -> int:
        """Items waiting to be sent besides the ticket commands in the outbox."""
        return 0

    def more_dead_letters(self) -> list[DeadLetter]:
        """Refusals besides those of ticket commands."""
        return []

    # --- what the bar shows -------------------------------------------------------------------------

    @property
    def online(self) -> bool:
        return self._status is not None and self._status.online

    def _on_status(self, status: Status) -> None:
        was = self.online
        self._status = status
        self.publish()
        if status.online and not was:
            self.on_online()

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
                outbox=self._store.outbox_count() + self.waiting(),
                dead_letters=tuple(self._refusal(status) + self._dead_letters() + self.more_dead_letters()),
                catalog_loaded=self._catalog[0],
                catalog_total=self._catalog[1],
            )
        )

    def _refusal(self, status: Status | None) -> list[DeadLetter]:
        """The server refused the device itself (revoked, app too old): shown like a dead letter, with
        what to do, because nothing is sent until a person acts."""
        if status is None or not status.stopped or status.problem is None:
            return []
        what = translator.tr(self.this_device)
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
