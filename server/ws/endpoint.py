"""``/ws``: Hello -> Welcome -> catch-up EventFrames -> CaughtUp -> live events; Submit -> Results;
Ack; Ping/Pong. Frames are JSON (text or binary frames accepted; the server sends binary frames).

The first frame must be ``Hello`` (device token, protocol version, last seen position). Bad frames
after that get an ``Error`` frame and the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, cast

import asyncpg
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.types import WebSocketSendEvent

from protocol import MIN_PROTOCOL_VERSION, PROTOCOL_VERSION
from protocol.codec import DecodeFailure, Frames, encode
from protocol.errors import Codes, ErrorBody
from protocol.messages import Error, Hello, Ping, Pong, Welcome
from protocol.ticket_codes import CloseCodes, StreamCodes
from protocol.tickets import Ack, CaughtUp, Results, Submit
from server import events
from server.auth.guards import DeviceCaller, device_by_token
from server.errors import AppError
from server.sync import service as sync
from server.ws.hub import Client, Hub, StoreFeed

log = logging.getLogger(__name__)

Inbound = Hello | Submit | Ack | Ping | Pong
inbound: Frames[Inbound] = Frames(Inbound)


class Closed(Exception):
    """The peer went away."""


class Close(Exception):
    """We end the connection with this code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def error_frame(code: str, message: str, in_reply_to: str | None = None, **details: Any) -> bytes:
    return encode(Error(error=ErrorBody(code=code, message=message, details=details), in_reply_to=in_reply_to))


async def _receive(socket: WebSocket[Any, Any, Any]) -> bytes | str:
    event = await socket.receive()
    if event["type"] == "websocket.disconnect":
        raise Closed
    data = event.get("bytes")
    if data is None:
        data = event.get("text") or ""
    return cast(bytes | str, data)


async def _send(socket: WebSocket[Any, Any, Any], frame: bytes) -> None:
    event: WebSocketSendEvent = {"type": "websocket.send", "bytes": frame, "text": None}
    await socket.send(event)


@websocket("/ws", opt={"public": True}, name="stream")
async def stream(socket: WebSocket[Any, Any, Any]) -> None:
    """The device stream (authenticated by the Hello frame, not by a header)."""
    hub: Hub = socket.app.state.hub
    await socket.accept()
    try:
        session = await _handshake(socket, hub)
    except Close as close:
        await _close(socket, close.code, close.reason, hub.config.close_timeout)
        return
    except (Closed, WebSocketDisconnect):
        return
    await session.run()


async def _handshake(socket: WebSocket[Any, Any, Any], hub: Hub) -> Session:
    try:
        data = await asyncio.wait_for(_receive(socket), hub.config.hello_timeout)
    except TimeoutError:
        raise Close(CloseCodes.HELLO_EXPECTED, "no Hello received in time") from None
    try:
        hello = inbound.decode(data)
    except DecodeFailure as exc:
        await _send(socket, encode(Error(error=exc.body)))
        raise Close(CloseCodes.HELLO_EXPECTED, "the first frame must be a valid Hello") from None
    if not isinstance(hello, Hello):
        await _send(socket, error_frame(StreamCodes.HELLO_EXPECTED, "Send Hello first, with the device token."))
        raise Close(CloseCodes.HELLO_EXPECTED, "the first frame must be Hello")
    if hello.protocol_version < MIN_PROTOCOL_VERSION:
        await _send(
            socket,
            error_frame(
                Codes.UNSUPPORTED_VERSION,
                f"This app speaks protocol {hello.protocol_version}; the server needs {MIN_PROTOCOL_VERSION}"
                f" to {PROTOCOL_VERSION}. Update the app.",
                "hello",
                min=MIN_PROTOCOL_VERSION,
                max=PROTOCOL_VERSION,
            ),
        )
        raise Close(CloseCodes.UNSUPPORTED_VERSION, "unsupported protocol version")
    try:
        device = await device_by_token(hub.pool, hello.device_token)
    except AppError as exc:
        await _send(socket, encode(Error(error=exc.body(), in_reply_to="hello")))
        raise Close(CloseCodes.UNAUTHENTICATED, exc.code) from None
    async with hub.pool.acquire() as conn:
        head = await events.head(cast(asyncpg.Connection, conn), device.store_id)
    await _send(
        socket,
        encode(
            Welcome(
                protocol_version=min(hello.protocol_version, PROTOCOL_VERSION),
                device_id=device.device_id,
                store_id=device.store_id,
                position=head,
                server_time_ms=time.time_ns() // 1_000_000,
            )
        ),
    )
    start = hello.last_position
    if start > head or start < 0:
        # The device knows positions this store never had (e.g. the database was restored from a
        # backup): it gets the whole log again rather than silently missing what comes next.
        await _send(
            socket,
            error_frame(
                StreamCodes.POSITION_AHEAD,
                f"Position {start} is not in this store's log (last is {head}); sending the log from the start.",
                "hello",
                last_position=start,
                server_position=head,
            ),
        )
        start = 0
    return Session(socket, hub, device, start)


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str, wait_s: float) -> None:
    # A client that stopped reading may never let the close frame out: give up after ``wait_s``.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code, reason), wait_s)


class Session:
    def __init__(self, socket: WebSocket[Any, Any, Any], hub: Hub, device: DeviceCaller, start: int) -> None:
        self.socket = socket
        self.hub = hub
        self.config = hub.config
        self.device = device
        self.client = Client(device, self.config.queue_size)
        self.client.position = start
        self.acked = 0
        self.saved_ack = 0
        self.saved_at = 0.0
        self.last_heard = time.monotonic()
        self.last_said = time.monotonic()
        self.submits: asyncio.Queue[Submit] = asyncio.Queue(maxsize=64)

    async def run(self) -> None:
        feed = self.hub.subscribe(self.client)
        catch_up = asyncio.create_task(self._catch_up(feed))
        overflow = asyncio.create_task(self.client.overflowed.wait())
        tasks = {
            catch_up,
            overflow,
            asyncio.create_task(self._write()),
            asyncio.create_task(self._read()),
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._apply()),
        }
        waiting = set(tasks)
        close: Close | None = None
        try:
            while close is None:
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if overflow in done:
                    close = Close(CloseCodes.TOO_SLOW, f"too slow: more than {self.config.queue_size} frames waiting")
                    break
                exc = next((t.exception() for t in done if t.exception() is not None), None)
                if exc is None and done == {catch_up}:
                    continue  # caught up; live events flow from the feed now
                if isinstance(exc, Close):
                    close = exc
                elif exc is not None and not isinstance(exc, Closed | WebSocketDisconnect):
                    log.error("stream of %s failed", self.device.device_id, exc_info=exc)
                    close = Close(1011, "server error")
                break
        finally:
            self.hub.unsubscribe(self.client)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            await self._save_ack(force=True)
        if close is not None:
            if close.code == CloseCodes.TOO_SLOW:
                log.info("disconnecting slow device %s", self.device.device_id)
            await _close(self.socket, close.code, close.reason, self.config.close_timeout)

    async def _catch_up(self, feed: StoreFeed) -> None:
        """Send the log after the device's position, then hand over to the live feed without a gap."""
        await feed.ready.wait()
        client = self.client
        position = client.position
        while True:
            async with self.hub.pool.acquire() as conn:
                frames = await events.read_frames_after(
                    cast(asyncpg.Connection, conn), self.device.store_id, position, self.config.page
                )
            for pos, frame in frames:
                await client.queue.put(frame)
                position = pos
            if len(frames) == self.config.page:
                continue
            tail = feed.frames_after(position)
            if tail is None:
                continue  # the ring moved past us while reading: read the log again
            # From here to ``live = True`` nothing awaits, so the feed cannot slip an event in between.
            for pos, frame in tail:
                client.say(frame)
                position = pos
            client.position = position
            client.live = True
            client.say(encode(CaughtUp(position=position)))
            return

    async def _write(self) -> None:
        while True:
            frame = await self.client.queue.get()
            await _send(self.socket, frame)
            self.last_said = time.monotonic()

    async def _heartbeat(self) -> None:
        nonce = 0
        while True:
            await asyncio.sleep(min(self.config.ping_interval, self.config.idle_timeout) / 4)
            now = time.monotonic()
            if now - self.last_heard > self.config.idle_timeout:
                raise Close(CloseCodes.IDLE, f"nothing heard for {self.config.idle_timeout:g} s")
            if now - self.last_said > self.config.ping_interval:
                nonce += 1
                self.client.say(encode(Ping(nonce=nonce)))
                self.last_said = now

    async def _read(self) -> None:
        while True:
            data = await _receive(self.socket)
            self.last_heard = time.monotonic()
            if len(data) > self.config.max_frame:
                self.client.say(
                    error_frame(
                        StreamCodes.FRAME_TOO_LARGE,
                        f"Frames are limited to {self.config.max_frame} bytes; upload large outboxes with"
                        " POST /sync/commands.",
                        max=self.config.max_frame,
                        given=len(data),
                    )
                )
                continue
            try:
                frame = inbound.decode(data)
            except DecodeFailure as exc:
                self.client.say(encode(Error(error=exc.body)))
                continue
            await self._handle(frame)

    async def _handle(self, frame: Inbound) -> None:
        match frame:
            case Ping(nonce=nonce):
                self.client.say(encode(Pong(nonce=nonce)))
            case Pong():
                pass
            case Ack(position=position):
                if position > self.client.position:
                    self.client.say(
                        error_frame(
                            StreamCodes.ACK_AHEAD,
                            f"Acknowledged position {position} was never sent (last sent {self.client.position}).",
                            "ack",
                            position=position,
                            sent_position=self.client.position,
                        )
                    )
                    return
                self.acked = max(self.acked, position)
                await self._save_ack()
            case Submit():
                await self.submits.put(frame)
            case Hello():
                self.client.say(error_frame(Codes.BAD_REQUEST, "Hello is sent once, first.", "hello"))

    async def _apply(self) -> None:
        """Apply submitted commands in order. Submits that arrive while one is being applied are
        applied together in one transaction (one commit), each still answered by its own Results.

        The pool connection is kept while Submits keep coming: giving it back costs a round trip (the
        pool resets it), which would otherwise sit between every two transactions of a busy handheld."""
        carry: Submit | None = None
        while True:
            batch, carry = self._take(carry or await self.submits.get())
            async with self.hub.pool.acquire() as conn:
                while True:
                    await self._apply_batch(cast(asyncpg.Connection, conn), batch)
                    if carry is None and self.submits.empty():
                        break
                    batch, carry = self._take(carry or self.submits.get_nowait())

    def _take(self, first: Submit) -> tuple[list[Submit], Submit | None]:
        """``first`` and the Submits waiting behind it, up to one upload's size (the rest carried over)."""
        batch, size = [first], len(first.commands)
        while not self.submits.empty():
            more = self.submits.get_nowait()
            if size + len(more.commands) > sync.MAX_BATCH:
                return batch, more
            batch.append(more)
            size += len(more.commands)
        return batch, None

    async def _apply_batch(self, conn: asyncpg.Connection, batch: list[Submit]) -> None:
        committed: list[tuple[int, bytes]] = []
        try:
            results, last = await sync.apply_commands(
                conn, self.device, [c for s in batch for c in s.commands], committed=committed
            )
        except AppError as exc:
            for _ in batch:
                self.client.say(encode(Error(error=exc.body(), in_reply_to="submit")))
            if exc.code in (Codes.DEVICE_REVOKED, Codes.UNAUTHENTICATED):
                raise Close(CloseCodes.UNAUTHENTICATED, exc.code) from None
            return
        # The tills get the new tickets without this process reading them back from the log.
        self.hub.publish(self.device.store_id, committed)
        start = 0
        for submit in batch:
            end = start + len(submit.commands)
            self.client.say(encode(Results(results=results[start:end], last_applied_seq=last)))
            start = end

    async def _save_ack(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.acked <= self.saved_ack or (not force and now - self.saved_at < 1.0):
            return
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            async with self.hub.pool.acquire() as conn:
                await sync.save_ack(cast(asyncpg.Connection, conn), self.device, self.acked)
            self.saved_ack, self.saved_at = self.acked, now
