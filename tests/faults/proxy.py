"""A TCP proxy under test control, for cutting and degrading the network between a client and a server.

Modes: pass-through, added latency per chunk, reset every connection, half-open (accept and read but
never forward or answer; open connections silently stop carrying data too), and slow reader (forward
server->client a few bytes at a time). Bounded: it only ever connects to the one loopback upstream it
was given.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class Faults:
    latency_s: float = 0.0
    reset: bool = False
    half_open: bool = False
    slow_bytes_per_s: int = 0


@dataclass
class TcpProxy:
    upstream_host: str
    upstream_port: int
    faults: Faults = field(default_factory=Faults)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    connections: int = 0

    async def start(self) -> TcpProxy:
        assert self.upstream_host in ("127.0.0.1", "localhost", "::1"), "loopback only"
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        self.cut_all()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t

    def cut_all(self) -> None:
        """Reset every open connection now (both sides see the connection drop)."""
        for w in list(self._writers):
            transport = w.transport
            if transport is not None:
                transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.faults.reset:
            writer.transport.abort()
            return
        self._writers.add(writer)
        if self.faults.half_open:
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        a = asyncio.create_task(self._pipe(reader, up_writer, slow=False))
        b = asyncio.create_task(self._pipe(up_reader, writer, slow=True))
        self._tasks |= {a, b}
        a.add_done_callback(self._tasks.discard)
        b.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, slow: bool) -> None:
        try:
            while True:
                data = await src.read(65536)
                if not data:
                    break
                if self.faults.half_open:
                    continue  # the link went dead without either side being told
                if self.faults.latency_s:
                    await asyncio.sleep(self.faults.latency_s)
                if slow and self.faults.slow_bytes_per_s:
                    step = max(1, self.faults.slow_bytes_per_s // 10)
                    for i in range(0, len(data), step):
                        dst.write(data[i : i + step])
                        await dst.drain()
                        await asyncio.sleep(0.1)
                else:
                    dst.write(data)
                    await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()
