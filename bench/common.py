"""Shared pieces for benchmarks: a private PostgreSQL, a real server process, the result table."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from server.db.embedded import EmbeddedPostgres, free_port
from server.db.migrate import migrate
from server.demo import seed_demo


@dataclass
class Result:
    """One row of the table: our figure beside its baseline measured in the same run."""

    name: str
    figure: float
    unit: str
    baseline: float | None
    baseline_label: str
    target: str
    met: bool
    note: str = ""

    @property
    def ratio(self) -> str:
        if not self.baseline:
            return "-"
        return f"{self.figure / self.baseline:.2f}"


@contextmanager
def postgres() -> Iterator[EmbeddedPostgres]:
    """A durable (fsync on) private cluster: benchmarks measure what production would see."""
    tmp = Path(tempfile.mkdtemp(prefix="ft-bench-"))
    tmp.chmod(0o755)
    pg = EmbeddedPostgres(tmp / "pg")
    pg.start()
    try:
        yield pg
    finally:
        pg.stop("immediate")


async def prepare_database(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await seed_demo(conn)
    finally:
        await conn.close()


@contextmanager
def server_process(dsn: str, port: int | None = None) -> Iterator[str]:
    """A real server process (uvicorn) on a free port; yields its base URL."""
    with server_with_pid(dsn, port) as (base, _pid):
        yield base


@contextmanager
def server_with_pid(dsn: str, port: int | None = None) -> Iterator[tuple[str, int]]:
    """``server_process`` that also gives the process id (for memory figures)."""
    port = port or free_port()
    env = dict(os.environ, DATABASE_URL=dsn, FT_SECRET_KEY="bench-secret-" + "x" * 32, FT_PORT=str(port))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "server.asgi:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--ws",
            "websockets-sansio",
            "--ws-per-message-deflate",
            "false",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def run_async(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def print_table(results: list[Result]) -> None:
    header = ("benchmark", "figure", "baseline", "ratio", "target", "met")
    rows = [
        (
            r.name,
            f"{r.figure:,.1f} {r.unit}",
            f"{r.baseline:,.1f} ({r.baseline_label})" if r.baseline is not None else r.baseline_label,
            r.ratio,
            r.target,
            "yes" if r.met else "NO",
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
    for r in results:
        if r.note:
            print(f"  {r.name}: {r.note}")
