"""Open device streams per server process (target: ≥ 2,000 connections, ≤ 50 KiB each).

Ours: 2,000 tills connect to one real server process over loopback, each completing the real
handshake (Hello with its device token → Welcome → catch-up → CaughtUp) and staying subscribed; the
figure is the server's resident memory growth per open stream. Baseline in the same run: the same
number of connections to a bare ``websockets`` server that only answers one frame (both without
per-message compression, as the server runs), so the ratio shows
what our session (queue, heartbeat, store feed) costs on top of a websocket itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from typing import Any

import asyncpg
import msgspec
import websockets

from bench.common import Result, postgres, prepare_database, rss_kib, server_with_pid
from protocol import PROTOCOL_VERSION
from protocol.messages import Hello
from server.auth.tokens import digest, random_secret
from server.db.embedded import free_port

CONNECTIONS = int(os.environ.get("FT_BENCH_CONNECTIONS", "2000"))
TARGET_KIB = 50
OPEN_AT_ONCE = 100

BARE_SERVER = """
import asyncio, sys, websockets
async def handler(ws):
    await ws.recv()
    await ws.send(b'{"type":"caught_up","position":0}')
    await ws.wait_closed()
async def main():
    async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


async def _till_token(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        token = random_secret()
        await conn.execute(
            "UPDATE device SET state = 'active', token_hash = $1, enrolled_at = now()"
            " WHERE id = (SELECT id FROM device WHERE kind = 'till' ORDER BY label LIMIT 1)",
            digest(token),
        )
        return token
    finally:
        await conn.close()


async def _open(url: str, hello: bytes, until: bytes) -> Any:
    ws = await websockets.connect(url, max_size=2**20, ping_interval=None, open_timeout=60)
    await ws.send(hello)
    while True:
        frame = await ws.recv()
        if until in (frame if isinstance(frame, bytes) else frame.encode()):
            return ws


async def _open_all(url: str, hello: bytes, until: bytes) -> list[Any]:
    sockets: list[Any] = []
    for start in range(0, CONNECTIONS, OPEN_AT_ONCE):
        batch = min(OPEN_AT_ONCE, CONNECTIONS - start)
        sockets += await asyncio.gather(*(_open(url, hello, until) for _ in range(batch)))
    return sockets


async def _close_all(sockets: list[Any]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def _measure_ours(base: str, pid: int, token: str) -> tuple[float, int]:
    url = base.replace("http://", "ws://") + "/ws"
    hello = msgspec.json.encode(Hello(protocol_version=PROTOCOL_VERSION, device_token=token, last_position=0))
    warm = await _open_all_n(url, hello, b"caught_up", 10)
    before = rss_kib(pid)
    sockets = await _open_all(url, hello, b"caught_up")
    await asyncio.sleep(1)
    after = rss_kib(pid)
    held = sum(1 for ws in sockets if ws.state.name == "OPEN")
    await _close_all(sockets + warm)
    return (after - before) / CONNECTIONS, held


async def _open_all_n(url: str, hello: bytes, until: bytes, n: int) -> list[Any]:
    return list(await asyncio.gather(*(_open(url, hello, until) for _ in range(n))))


async def _measure_bare(url: str, pid: int) -> float:
    warm = await _open_all_n(url, b"hello", b"caught_up", 10)
    before = rss_kib(pid)
    sockets = await _open_all(url, b"hello", b"caught_up")
    await asyncio.sleep(1)
    after = rss_kib(pid)
    await _close_all(sockets + warm)
    return (after - before) / CONNECTIONS


def _bare_baseline() -> float:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        return asyncio.run(_measure_bare(f"ws://127.0.0.1:{port}", proc.pid))
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def run() -> Result:
    with postgres() as pg:
        dsn = pg.dsn
        asyncio.run(prepare_database(dsn))
        token = asyncio.run(_till_token(dsn))
        with server_with_pid(dsn) as (base, pid):
            started = time.perf_counter()
            per_conn, held = asyncio.run(_measure_ours(base, pid, token))
            opened_s = time.perf_counter() - started
    bare = _bare_baseline()
    return Result(
        name=f"{CONNECTIONS:,} open device streams on one process",
        figure=per_conn,
        unit="KiB each",
        baseline=bare,
        baseline_label="bare websockets server",
        target=f">= 2,000 held, <= {TARGET_KIB} KiB each",
        met=held >= 2000 and per_conn <= TARGET_KIB,
        note=f"{held:,} of {CONNECTIONS:,} streams held after the full handshake; opened in {opened_s:.1f} s",
    )


if __name__ == "__main__":
    from bench.common import print_table

    print_table([run()])
