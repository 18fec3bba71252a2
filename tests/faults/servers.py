"""Real server processes the fault tests can kill (SIGKILL) and start again on the same port, plus the
checks every fault test ends with: each command applied once, positions without gaps."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field

import asyncpg
import httpx

from server.db.embedded import free_port

SECRET = "fault-secret-" + "x" * 32


@dataclass
class ServerProcess:
    """``uvicorn server.asgi:app`` against ``dsn`` on a fixed loopback port."""

    dsn: str
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self, timeout: float = 30) -> ServerProcess:
        env = dict(
            os.environ,
            DATABASE_URL=self.dsn,
            FT_SECRET_KEY=SECRET,
            FT_PORT=str(self.port),
            FT_LEDGER_JOBS_SECONDS="0",
        )
        env |= self.env
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "server.asgi:app",
                "--port",
                str(self.port),
                "--log-level",
                "critical",
                "--ws",
                "websockets-sansio",
            ],
            env=env,
        )
        self.starts += 1
        async with httpx.AsyncClient(base_url=self.base, timeout=1) as http:
            async with asyncio.timeout(timeout):
                while True:
                    if self.proc.poll() is not None:
                        raise RuntimeError(f"server exited with {self.proc.returncode}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get("/health")).status_code == 200:
                            return self
                    await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, open transactions die with their connections."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@contextlib.asynccontextmanager
async def running(*servers: ServerProcess) -> contextlib.AsyncIterator[tuple[ServerProcess, ...]]:
    try:
        await asyncio.gather(*(s.start() for s in servers))
        yield servers
    finally:
        for s in servers:
            s.stop()


@dataclass(frozen=True)
class Applied:
    """What the database says about one device's commands and its store's log."""

    commands: int
    statuses: dict[str, int]
    last_seq: int
    seqs_without_gaps: bool
    positions_without_gaps: bool
    events: int


LAST_SEQ = "SELECT coalesce(max(last_applied_seq), 0) FROM device_sync WHERE device_id = $1"
POSITIONS = "SELECT position FROM event_log WHERE store_id = $1"
HEAD = "SELECT coalesce(max(last_position), 0) FROM event_counter WHERE store_id = $1"


async def last_seq(conn: asyncpg.Connection, device_id: uuid.UUID) -> int:
    return int(await conn.fetchval(LAST_SEQ, device_id))


async def applied(conn: asyncpg.Connection, device_id: uuid.UUID, store_id: uuid.UUID) -> Applied:
    rows = await conn.fetch("SELECT device_seq, status FROM applied_command WHERE device_id = $1", device_id)
    seqs = sorted(r["device_seq"] for r in rows)
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    last = await conn.fetchval(LAST_SEQ, device_id)
    positions = [r["position"] for r in await conn.fetch(POSITIONS, store_id)]
    head = await conn.fetchval(HEAD, store_id)
    return Applied(
        commands=len(rows),
        statuses=statuses,
        last_seq=int(last),
        seqs_without_gaps=seqs == list(range(1, len(seqs) + 1)),
        positions_without_gaps=sorted(positions) == list(range(1, len(positions) + 1)) and head == len(positions),
        events=len(positions),
    )
