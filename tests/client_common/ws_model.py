"""A small websockets server speaking the sync protocol, backed by the in-memory model server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from websockets.asyncio.server import Server, ServerConnection, serve

from protocol.codec import encode
from protocol.sync import client_frames
from tests.protocol.sync_model import ModelConnection, ModelServer


class ModelWsServer:
    def __init__(self, model: ModelServer | None = None) -> None:
        self.model = model or ModelServer()
        self.sockets: dict[ModelConnection, tuple[ServerConnection, asyncio.Event]] = {}
        self.hellos: list[int] = []  # last_position of every Hello, in order
        self.server: Server | None = None
        self.connected = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        conn = self.model.connect()
        wake = asyncio.Event()
        self.sockets[conn] = (ws, wake)
        writer = asyncio.get_running_loop().create_task(self._write(conn, ws, wake))
        try:
            async for data in ws:
                frame = client_frames.decode(data)
                if type(frame).__name__ == "Hello":
                    self.hellos.append(frame.last_position)  # type: ignore[union-attr]
                conn.receive(frame)
                self.wake()
                if conn.live:
                    self.connected.set()
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self.model.disconnect(conn)
            self.sockets.pop(conn, None)

    async def _write(self, conn: ModelConnection, ws: ServerConnection, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            while conn.to_client:
                await ws.send(encode(conn.to_client.pop(0)))

    def wake(self) -> None:
        for _, wake in self.sockets.values():
            wake.set()

    def pay(self, ticket_id: object) -> None:
        self.model.pay(ticket_id)  # type: ignore[arg-type]
        self.wake()

    async def drop_everyone(self) -> None:
        self.connected.clear()
        for ws, _ in list(self.sockets.values()):
            await ws.close(code=1011, reason="server going away")


@contextlib.asynccontextmanager
async def running(ws_model: ModelWsServer, port: int = 0) -> AsyncIterator[str]:
    async with serve(ws_model.handler, "127.0.0.1", port) as server:
        ws_model.server = server
        sock = next(iter(server.sockets))
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/ws"
