"""The README's run command: embedded PostgreSQL, migrations, demo seed, banner, clean Ctrl-C, reuse."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from server.db.embedded import free_port


def _start(data_dir: Path, port: int, pg_port: int) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env |= {"FT_DATA_DIR": str(data_dir), "FT_PORT": str(port), "FT_PG_PORT": str(pg_port)}
    return subprocess.Popen(
        [sys.executable, "-m", "server", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_banner(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "Press Ctrl-C" in line:
            return "".join(seen)
    proc.kill()
    raise AssertionError("no banner:\n" + "".join(seen))


def _health(port: int, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                return dict(json.loads(r.read()))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return out


@pytest.mark.e2e
def test_run_serves_health_seeds_demo_stops_cleanly_and_reuses_data() -> None:
    # PostgreSQL runs as the postgres user when we are root: its folder must be reachable by it.
    tmp_path = Path(tempfile.mkdtemp(prefix="ft-run-"))
    tmp_path.chmod(0o755)
    data = tmp_path / "data"
    port, pg_port = free_port(), free_port()

    first = _start(data, port, pg_port)
    banner = _wait_banner(first)
    admin = next(w for line in banner.splitlines() if "Admin:" in line for w in line.split() if w.startswith("http"))
    assert admin == f"http://127.0.0.1:{port}/admin/sign-in"
    assert "S001" in banner
    assert "PIN 1111" in banner
    codes = [line.split()[0] for line in banner.splitlines() if line.strip().endswith(("Apple 1", "Till 1"))]
    assert codes
    assert all(c.isdigit() and len(c) == 8 for c in codes)
    assert _health(port)["status"] == "ok"
    with urllib.request.urlopen(admin, timeout=5) as r:  # the printed address is the real sign-in page
        assert r.status == 200
        assert "<h1>登录</h1>" in r.read().decode()
    rest = _stop(first)
    assert first.returncode == 0
    assert "Stopping embedded PostgreSQL" in rest
    assert not (data / "pg" / "postmaster.pid").exists()  # PostgreSQL is down too

    second = _start(data, port, pg_port)
    banner2 = _wait_banner(second)
    assert "migration applied" not in banner2  # same data, nothing to migrate
    assert _health(port)["status"] == "ok"
    _stop(second)
    assert second.returncode == 0
    shutil.rmtree(tmp_path, ignore_errors=True)
