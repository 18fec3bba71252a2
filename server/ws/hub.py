"""Per-process fan-out of a store's event log to its connected devices.

One ``StoreFeed`` per store with connected devices tails the log (nudged by NOTIFY, polling as a
fallback), keeps a ring of recent encoded frames, and offers each frame to every live client of the
store. Offering never waits: a client whose bounded queue is full is marked overflowed and is
disconnected by its own handler, so a slow or dead device never stalls the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from litestar import Litestar

from server import events
from server.auth.guards import DeviceCaller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamConfig:
    """Limits of the stream; tests and operators override them through ``Settings.extra`` (``ws_*``)."""

    queue_size: int = 1024  # frames waiting for one client before it is disconnected as too slow
    ping_interval: float = 20.0  # the server sends Ping when it has said nothing for this long
    idle_timeout: float = 60.0  # nothing heard from the client for this long: disconnect
    hello_timeout: float = 10.0
    close_timeout: float = 5.0
    max_frame: int = 1 << 20  # bytes; larger frames get an Error (use POST /sync/commands for big outboxes)
    poll_interval: float = 1.0  # feeds read the log at least this often even without a NOTIFY
    ring: int = 4096  # recent frames kept per store for the hand-off from catch-up to live
    page: int = 500  # events per catch-up read

    @property
    def feed_page(self) -> int:
        """Live events are fanned out at most this many at a time, then the writers drain: a client
        that keeps up never holds more than half its queue, so a burst (say, end-of-day expiry of
        thousands of tickets) never disconnects it."""
        return max(1, min(self.page, self.queue_size // 2))

    @classmethod
    def from_extra(cls, extra: dict[str, str]) -> StreamConfig:
        fields = cls.__dataclass_fields__
        values: dict[str, Any] = {}
        for name, f in fields.items():
            raw = extra.get(f"ws_{name}")
            if raw is not None:
                values[name] = float(raw) if f.type in ("float", float) else int(raw)
        return cls(**values)


class Client:
    """One connected device: a bounded queue of frames and how far it has been sent."""

    def __init__(self, device: DeviceCaller, queue_size: int) -> None:
        self.device = device
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self.position = 0  # last event position put in the queue
        self.live = False
        self.overflowed = asyncio.Event()

    def offer(self, position: int, frame: bytes) -> None:
        """A live event from the feed; never waits."""
        if not self.live or position <= self.position:
            return
        if position != self.position + 1:  # cannot happen while live; refuse to skip silently
            log.error("client %s would skip from %d to %d", self.device.device_id, self.position, position)
            self.overflow()
            return
        self.say(frame)
        self.position = position

    def say(self, frame: bytes) -> None:
        """Queue a frame without waiting; a full queue marks the client too slow."""
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflow()

    def overflow(self) -> None:
        self.live = False
        self.overflowed.set()


class StoreFeed:
    def __init__(self, hub: Hub, store_id: uuid.UUID) -> None:
        self.hub = hub
        self.store_id = store_id
        self.position = 0
        self.ring: deque[tuple[int, bytes]] = deque(maxlen=hub.config.ring)
        self.clients: set[Client] = set()
        self.ready = asyncio.Event()
        self.nudged = asyncio.Event()
        self.task = asyncio.create_task(self._run(), name=f"feed-{store_id}")

    def frames_after(self, position: int) -> list[tuple[int, bytes]] | None:
        """Frames after ``position`` up to the feed's position, or None when the ring no longer has them."""
        if position >= self.position:
            return []
        if not self.ring or self.ring[0][0] > position + 1:
            return None
        start = position + 1 - self.ring[0][0]
        return [self.ring[i] for i in range(start, len(self.ring))]

    async def _run(self) -> None:
        pool = self.hub.pool
        while True:
            try:
                async with pool.acquire() as conn:
                    self.position = await events.head(cast(asyncpg.Connection, conn), self.store_id)
                break
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("feed %s cannot start yet: %s", self.store_id, exc)
                await asyncio.sleep(self.hub.config.poll_interval)
        self.ready.set()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.nudged.wait(), self.hub.config.poll_interval)
            self.nudged.clear()
            try:
                await self._read()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("feed %s read failed: %s", self.store_id, exc)

    async def _read(self) -> None:
        async with self.hub.pool.acquire() as conn:
            while True:
                frames = await events.read_frames_after(
                    cast(asyncpg.Connection, conn), self.store_id, self.position, self.hub.config.feed_page
                )
                self._fan_out(frames)
                if len(frames) < self.hub.config.feed_page:
                    return
                await asyncio.sleep(0)  # let the writers drain before the next page

    def _fan_out(self, frames: list[tuple[int, bytes]]) -> None:
        for position, frame in frames:
            if position <= self.position:  # already delivered (published while this read was under way)
                continue
            self.ring.append((position, frame))
            self.position = position
            for client in list(self.clients):
                client.offer(position, frame)

    def deliver(self, frames: list[tuple[int, bytes]]) -> None:
        """Fan out frames this process has just committed, without reading them back, as far as they
        continue the feed without a gap; anything else is left to the next read of the log."""
        if not self.ready.is_set() or len(frames) > self.hub.config.feed_page:
            self.nudged.set()  # not started yet, or a burst: the paced read takes it
            return
        fresh = [(p, f) for p, f in frames if p > self.position]
        if not fresh:
            return
        run = 0
        while run < len(fresh) and fresh[run][0] == self.position + 1 + run:
            run += 1
        self._fan_out(fresh[:run])
        if run < len(fresh):
            self.nudged.set()  # events of other writers come first: read them from the log


class Hub:
    """The process's feeds and its LISTEN connection."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, config: StreamConfig) -> None:
        self.pool = pool
        self.dsn = dsn
        self.config = config
        self.feeds: dict[uuid.UUID, StoreFeed] = {}
        self._listener: asyncpg.Connection | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._watch = asyncio.create_task(self._keep_listening(), name="event-listener")

    async def stop(self) -> None:
        tasks = [f.task for f in self.feeds.values()] + ([self._watch] if self._watch else [])
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()

    def subscribe(self, client: Client) -> StoreFeed:
        feed = self.feeds.get(client.device.store_id)
        if feed is None:
            feed = self.feeds[client.device.store_id] = StoreFeed(self, client.device.store_id)
        feed.clients.add(client)
        return feed

    def unsubscribe(self, client: Client) -> None:
        """Forget a client; a store with no device connected to this process stops being tailed."""
        feed = self.feeds.get(client.device.store_id)
        if feed is not None:
            feed.clients.discard(client)
            if not feed.clients:
                del self.feeds[client.device.store_id]
                feed.task.cancel()

    def publish(self, store_id: uuid.UUID, frames: list[tuple[int, bytes]]) -> None:
        """Frames of events this process committed for ``store_id`` (in position order)."""
        feed = self.feeds.get(store_id)
        if feed is not None and frames:
            feed.deliver(frames)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        store, _, last = payload.partition(":")
        try:
            store_id = uuid.UUID(store)
            position = int(last) if last else None
        except ValueError:
            return
        feed = self.feeds.get(store_id)
        if feed is not None and (position is None or position > feed.position):
            feed.nudged.set()  # not already delivered (by ``publish``): read the log

    async def _keep_listening(self) -> None:
        """Hold a LISTEN connection, reconnecting after a loss (feeds poll meanwhile)."""
        callback: Callable[..., None] = self._on_notify
        while True:
            if self._listener is None or self._listener.is_closed():
                try:
                    self._listener = await asyncpg.connect(self.dsn)
                    await self._listener.add_listener(events.CHANNEL, callback)
                    for feed in self.feeds.values():  # anything missed while deaf
                        feed.nudged.set()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("cannot LISTEN for events yet: %s", exc)
                    self._listener = None
            await asyncio.sleep(self.config.poll_interval)


def stream_lifespan(dsn: str) -> Any:
    """Start the process's hub after the pool (``app.state.hub``)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        settings = getattr(app.state, "settings", None)
        config = StreamConfig.from_extra(getattr(settings, "extra", {}) or {})
        hub = Hub(app.state.pool, dsn, config)
        await hub.start()
        app.state.hub = hub
        try:
            yield
        finally:
            await hub.stop()

    return lifespan
