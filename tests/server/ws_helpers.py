"""A real server on a loopback port (uvicorn in the test's event loop) and a websocket device client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from litestar import Litestar
from websockets.asyncio.client import ClientConnection
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from protocol import PROTOCOL_VERSION
from protocol.codec import Frames, encode
from protocol.messages import Error, Hello, Ping, Pong, Welcome
from protocol.tickets import CaughtUp, EventFrame, Results
from server.app import create_app
from server.db.embedded import free_port
from server.settings import Settings

ServerFrame = Welcome | Results | EventFrame | CaughtUp | Error | Ping | Pong
server_frames: Frames[ServerFrame] = Frames(ServerFrame)


@asynccontextmanager
async def live_server(dsn: str, data_dir: Path, **ws: Any) -> AsyncIterator[tuple[str, Litestar]]:
    """Serve the app on a free loopback port; yields (ws url, app). ``ws`` overrides StreamConfig."""
    extra = {f"ws_{k}": str(v) for k, v in ws.items()}
    settings = Settings(secret_key="ws-secret-" + "x" * 32, data_dir=data_dir, seed_demo=False, extra=extra)
    app = create_app(settings, dsn=dsn)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws="websockets-sansio", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/ws", app
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def frame(ws: ClientConnection, timeout: float = 5.0) -> ServerFrame:
    return server_frames.decode(await asyncio.wait_for(ws.recv(), timeout))


async def hello(ws: ClientConnection, token: str, last_position: int = 0) -> Welcome:
    await ws.send(encode(Hello(protocol_version=PROTOCOL_VERSION, device_token=token, last_position=last_position)))
    welcome = await frame(ws)
    assert isinstance(welcome, Welcome), welcome
    return welcome


async def events_until_caught_up(ws: ClientConnection) -> tuple[list[int], int]:
    positions: list[int] = []
    while True:
        f = await frame(ws)
        if isinstance(f, EventFrame):
            positions.append(f.event.position)
        elif isinstance(f, CaughtUp):
            return positions, f.position
        else:
            raise AssertionError(f"unexpected frame during catch-up: {f!r}")


async def next_of(ws: ClientConnection, kind: type, timeout: float = 5.0, skip: tuple[type, ...] = (Ping,)) -> Any:
    """The next frame of ``kind``, skipping server Pings (and whatever else ``skip`` names)."""
    while True:
        f = await frame(ws, timeout)
        if isinstance(f, kind):
            return f
        if not isinstance(f, skip):
            raise AssertionError(f"expected {kind.__name__}, got {f!r}")


class StalledClient:
    """A device that stops reading: websockets' sans-I/O protocol over an asyncio stream with a tiny
    receive buffer, so the server's writes really back up (a library client would keep buffering)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.protocol = ClientProtocol(parse_uri(url))
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        host, port = self.url.removeprefix("ws://").split("/")[0].split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=4096)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.handshake_exc is None and self.protocol.state is not State.OPEN:
            await self._feed()
        assert self.protocol.state is State.OPEN

    def send(self, data: bytes) -> None:
        self.protocol.send_binary(data)
        self._flush()

    async def frame(self) -> ServerFrame:
        while True:
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode in (Opcode.BINARY, Opcode.TEXT):
                    return server_frames.decode(bytes(event.data))
            await self._feed()

    async def close_frame(self, timeout: float = 10.0) -> tuple[int, str]:
        """Start reading again, skip what was queued, and return the server's close (code, reason)."""
        async with asyncio.timeout(timeout):
            while True:
                self.protocol.events_received()
                if self.protocol.close_rcvd is not None:
                    return self.protocol.close_rcvd.code, self.protocol.close_rcvd.reason
                await self._feed()

    async def _feed(self) -> None:
        assert self.reader is not None
        data = await self.reader.read(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
            if self.protocol.close_rcvd is None:
                raise ConnectionError("closed without a close frame")
        self._flush()

    def _flush(self) -> None:
        assert self.writer is not None
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.writer.write(chunk)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
