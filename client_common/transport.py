"""The websocket client: drives the sans-IO sync core over ``ws://host/ws`` on the app's asyncio loop.

Nothing here blocks the caller: ``start()`` returns at once, commands are stored and queued
synchronously, and frames go out through a writer task. Each output of the core is handled in order:
persisted in the device store first, then sent, so an ``Ack`` never runs ahead of the disk.

Liveness: websockets' own ping (``ping_interval``/``ping_timeout``) drops a dead link (a half-open one is
given up after ``close_timeout`` more, since it never answers the close); the server's
application ``Ping`` frames are answered by the core. Reconnects wait a full-jitter exponential
backoff (``Backoff``), reset after each successful ``Welcome``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import websockets
from websockets.asyncio.client import ClientConnection, connect

from protocol.errors import Codes, ErrorBody
from protocol.sync import (
    FATAL_CLOSE_CODES,
    EventApplied,
    Fatal,
    Output,
    Phase,
    Problem,
    Reconnect,
    Send,
    SyncClient,
)
from protocol.tickets import AnyCommand, TicketEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    """What the screen shows about sync: online or not, commands waiting, dead letters, last problem."""

    online: bool
    waiting: int
    dead_letters: int
    problem: ErrorBody | None = None
    stopped: bool = False  # a person must act (device revoked, app too old)


@dataclass
class Backoff:
    """Full-jitter exponential backoff: the n-th wait is uniform in [0, min(cap, base * 2**n)]."""

    base: float = 0.5
    cap: float = 30.0
    random: Callable[[], float] = random.random
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * float(1 << self.attempt))
        self.attempt = min(self.attempt + 1, 32)
        return ceiling * float(self.random())

    def reset(self) -> None:
        self.attempt = 0


class Persists(Protocol):
    """Where the transport writes sync outputs down; ``client_common.store.DeviceStore`` is one."""

    def persist(self, output: Output) -> None: ...


@dataclass
class Transport:
    url: str  # ws://host:port/ws
    core: SyncClient
    store: Persists | None = None  # None keeps state in memory only (tests, tools)
    on_status: Callable[[Status], None] = lambda status: None
    on_event: Callable[[TicketEvent], None] = lambda event: None
    backoff: Backoff = field(default_factory=Backoff)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    open_timeout: float = 10.0
    close_timeout: float = 10.0  # a dead link never answers our close: drop it after this long
    connections: int = 0  # attempts so far, for tests and diagnostics
    _task: asyncio.Task[None] | None = None
    _ws: ClientConnection | None = None
    _queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    _problem: ErrorBody | None = None
    _last_status: Status | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    # --- the app's side -----------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run in the background until ``stop()``; returns immediately."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sync-transport")
        self._report()
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def submit(self, command: AnyCommand) -> None:
        """Queue a command already stored in the outbox (``DeviceStore.add_command``/``issue``)."""
        self.core.enqueue(command)
        self._flush()

    def resume(self) -> None:
        """After a person fixed a refusal (e.g. re-enrolled): try again now."""
        self.core.resume()
        self.backoff.reset()
        self._wake.set()
        if self._task is None or self._task.done():
            self.start()

    @property
    def status(self) -> Status:
        return Status(
            online=self.core.online,
            waiting=self.core.waiting,
            dead_letters=len(self.core.dead_letters),
            problem=self._problem,
            stopped=self.core.phase is Phase.STOPPED,
        )

    # --- the loop -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            if self.core.phase is Phase.STOPPED:
                self._wake.clear()
                await self._wake.wait()
                continue
            self.connections += 1
            try:
                async with connect(
                    self.url,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_timeout,
                    open_timeout=self.open_timeout,
                    close_timeout=self.close_timeout,
                    max_size=None,
                ) as ws:
                    await self._session(ws)
            except asyncio.CancelledError:
                self._lost()
                raise
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.ConnectionClosed) as exc:
                log.info("sync connection failed: %s", exc)
            self._lost()
            if self._stopped():
                continue
            await self.sleep(self.backoff.next_delay())

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._queue = asyncio.Queue()
        writer = asyncio.get_running_loop().create_task(self._write(ws))
        try:
            self.core.connection_made()
            self._flush()
            async for message in ws:
                self.core.receive_data(message)
                self._flush()
                if self.core.online:
                    self.backoff.reset()
        except websockets.ConnectionClosed:
            pass
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._ws = None
        code = ws.close_code
        if code in FATAL_CLOSE_CODES and self.core.phase is not Phase.STOPPED:
            reason = ws.close_reason or "The server refused this device."
            self.core.stop(
                ErrorBody(code=Codes.UNAUTHENTICATED if code == 4001 else Codes.UNSUPPORTED_VERSION, message=reason)
            )
            self._flush()

    async def _write(self, ws: ClientConnection) -> None:
        while True:
            data = await self._queue.get()
            if data is None:
                await ws.close()
                return
            await ws.send(data)

    def _stopped(self) -> bool:
        return self.core.phase is Phase.STOPPED

    def _lost(self) -> None:
        if self.core.phase is not Phase.OFFLINE and self.core.phase is not Phase.STOPPED:
            self.core.connection_lost()
        self._report()

    def _flush(self) -> None:
        """Handle the core's outputs in order: write down, then send."""
        for out in self.core.outputs():
            if isinstance(out, Send):
                if self._ws is not None:
                    self._queue.put_nowait(out.data)
                continue
            if self.store is not None:
                self.store.persist(out)
            match out:
                case EventApplied(event=event):
                    self.on_event(event)
                case Reconnect(reason=reason):
                    self._problem = reason
                    self._queue.put_nowait(None)  # close after what is already queued
                case Fatal(error=error):
                    self._problem = error
                    self._queue.put_nowait(None)
                case Problem(error=error):
                    self._problem = error
                case _:
                    pass
        self._report()

    def _report(self) -> None:
        status = self.status
        if status != self._last_status:
            self._last_status = status
            try:
                self.on_status(status)
            except Exception:  # a broken screen callback must not stop sync
                log.exception("status callback failed")
