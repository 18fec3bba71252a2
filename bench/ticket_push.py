"""Ticket issued -> received on 20 connected tills at 100 tickets/s (target: p99 ≤ 25 ms).

Ours: a real server process; a handheld sends each ``IssueTicket`` over its websocket at a steady
100 per second, and 20 tills connected to the same store time the arrival of the ticket's event
(clock from just before the handheld's send to the till's receipt; 20 samples per ticket). That
includes applying the command in a durable transaction, NOTIFY, reading the log and the fan-out.
Baseline in the same run: a bare websocket relay (``bench._broadcast``) sending the very same event
frame bytes to 20 subscribers at the same rate.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import uuid

import asyncpg
from websockets.asyncio.client import ClientConnection, connect

from bench.common import Result, percentile, postgres, prepare_database, server_process
from protocol import PROTOCOL_VERSION
from protocol.codec import Frames, encode
from protocol.ids import new_id
from protocol.messages import Hello
from protocol.tickets import CaughtUp, EventFrame, IssueTicket, Results, Submit, TicketDraft, TicketLine
from server.auth.tokens import digest, random_secret
from server.db.embedded import free_port

TILLS = 20
RATE = 100
TICKETS = 600
WARMUP = 50  # first tickets are not counted (connections and caches warming up)
TARGET_MS = 25.0

frames: Frames[EventFrame | CaughtUp | Results] = Frames(EventFrame | CaughtUp | Results)


async def _devices(dsn: str) -> tuple[str, list[str], list[IssueTicket]]:
    conn = await asyncpg.connect(dsn)
    try:
        hh_token = random_secret()
        hh = await conn.fetchrow(
            "UPDATE device SET state = 'active', token_hash = $1, enrolled_at = now()"
            " WHERE id = (SELECT id FROM device WHERE kind = 'handheld' ORDER BY label LIMIT 1)"
            " RETURNING id, store_id, counter_id",
            digest(hh_token),
        )
        assert hh is not None
        till_tokens = [random_secret() for _ in range(TILLS)]
        for n, token in enumerate(till_tokens):
            await conn.execute(
                "INSERT INTO device (id, store_id, kind, label, state, token_hash, enrolled_at)"
                " VALUES ($1, $2, 'till', $3, 'active', $4, now())",
                new_id(),
                hh["store_id"],
                f"Bench till {n + 1}",
                digest(token),
            )
        products = await conn.fetch(
            "SELECT id, sku, name_en, list_price FROM product WHERE counter_id = $1 ORDER BY sku", hh["counter_id"]
        )
    finally:
        await conn.close()
    commands = []
    for n in range(TICKETS):
        lines = [
            TicketLine(
                line_no=i + 1,
                product_id=p["id"],
                sku=p["sku"],
                name=p["name_en"],
                qty=1,
                list_price=p["list_price"],
                unit_price=p["list_price"],
                line_total=p["list_price"],
            )
            for i, p in enumerate(products[:3])
        ]
        draft = TicketDraft(
            id=new_id(),
            store_id=hh["store_id"],
            counter_id=hh["counter_id"],
            number=f"SH01-PUSH-H1-{n + 1:06d}",
            lines=lines,
            total=sum(ln.line_total for ln in lines),
        )
        commands.append(IssueTicket(command_id=new_id(), device_seq=n + 1, ticket=draft))
    return hh_token, till_tokens, commands


async def _greet(ws: ClientConnection, token: str) -> None:
    await ws.send(encode(Hello(protocol_version=PROTOCOL_VERSION, device_token=token)))
    await ws.recv()  # Welcome
    while True:
        f = frames.decode(await ws.recv())
        if isinstance(f, CaughtUp):
            return


async def _receive(
    ws: ClientConnection, n: int, sent: dict[uuid.UUID, float], samples: list[float], keep: list[bytes] | None = None
) -> None:
    count = 0
    while count < n:
        data = await ws.recv()
        now = time.perf_counter()
        try:
            f = frames.decode(data)
        except Exception:  # Ping and other frames the bench does not time
            continue
        if isinstance(f, EventFrame):
            samples.append((now - sent[f.event.ticket.id]) * 1000)
            count += 1
            if keep is not None:
                keep.append(data if isinstance(data, bytes) else data.encode())


async def _pace(items: list[object], send: object, sent: dict[uuid.UUID, float], ids: list[uuid.UUID]) -> None:
    start = time.perf_counter()
    for i, (item, ticket_id) in enumerate(zip(items, ids, strict=True)):
        delay = start + i / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[ticket_id] = time.perf_counter()
        await send(item)  # type: ignore[operator]


async def _ours(
    base: str, hh_token: str, till_tokens: list[str], commands: list[IssueTicket]
) -> tuple[list[float], list[bytes]]:
    url = base.replace("http", "ws") + "/ws"
    tills = [await connect(url, max_size=None, compression=None) for _ in till_tokens]
    hh = await connect(url, max_size=None, compression=None)
    try:
        for ws, token in zip(tills, till_tokens, strict=True):
            await _greet(ws, token)
        await _greet(hh, hh_token)
        sent: dict[uuid.UUID, float] = {}
        samples: list[float] = []
        captured: list[bytes] = []  # the exact event frames, replayed by the baseline
        readers = [
            asyncio.create_task(_receive(ws, len(commands), sent, samples, captured if i == 0 else None))
            for i, ws in enumerate(tills)
        ]
        drain = asyncio.create_task(_drain(hh))
        await _pace([encode(Submit(commands=[c])) for c in commands], hh.send, sent, [c.ticket.id for c in commands])
        await asyncio.wait_for(asyncio.gather(*readers), 60)
        drain.cancel()
        return samples, captured
    finally:
        for ws in [*tills, hh]:
            await ws.close()


async def _drain(ws: ClientConnection) -> None:
    while True:
        await ws.recv()


async def _baseline(port: int, payloads: list[bytes]) -> list[float]:
    url = f"ws://127.0.0.1:{port}/"
    subs = [await connect(url, max_size=None, compression=None) for _ in range(TILLS)]
    pub = await connect(url, max_size=None, compression=None)
    try:
        sent: dict[uuid.UUID, float] = {}
        samples: list[float] = []
        ids = [frames.decode(p).event.ticket.id for p in payloads]  # type: ignore[union-attr]
        readers = [asyncio.create_task(_receive(ws, len(payloads), sent, samples)) for ws in subs]
        await _pace(list(payloads), pub.send, sent, ids)
        await asyncio.wait_for(asyncio.gather(*readers), 60)
        return samples
    finally:
        for ws in [*subs, pub]:
            await ws.close()


def _wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _counted(samples: list[float]) -> list[float]:
    return samples[WARMUP * TILLS :]


def run() -> Result:
    with postgres() as pg:
        dsn = pg.dsn
        asyncio.run(prepare_database(dsn))
        hh_token, till_tokens, commands = asyncio.run(_devices(dsn))
        with server_process(dsn) as base:
            ours, payloads = asyncio.run(_ours(base, hh_token, till_tokens, commands))
    port = free_port()
    relay = subprocess.Popen([sys.executable, "-m", "bench._broadcast", str(port)])
    try:
        _wait_port(port)
        bare = asyncio.run(_baseline(port, payloads))
    finally:
        relay.terminate()
        relay.wait(timeout=10)
    ours, bare = _counted(ours), _counted(bare)
    p50, p99 = percentile(ours, 50), percentile(ours, 99)
    b50, b99 = percentile(bare, 50), percentile(bare, 99)
    return Result(
        name=f"ticket push p99 ({TILLS} tills, {RATE}/s)",
        figure=p99,
        unit="ms",
        baseline=b99,
        baseline_label="bare websocket broadcast p99",
        target=f"p99 ≤ {TARGET_MS:g} ms",
        met=p99 <= TARGET_MS,
        note=(
            f"p50 {p50:.1f} ms (bare {b50:.1f} ms), p99 {p99:.1f} ms (bare {b99:.1f} ms), "
            f"max {max(ours):.1f} ms; {len(ours)} samples of {TICKETS - WARMUP} tickets x {TILLS} tills"
        ),
    )
