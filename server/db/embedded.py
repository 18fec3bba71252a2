"""An embedded PostgreSQL for development and tests, run from the machine's own binaries.

We use the distribution's PostgreSQL (installed by ``make``) rather than a wheel that bundles a
server: it is the same build operators run in production, it is security-patched by the OS, and its
``initdb``/``pg_ctl`` do everything we need. PostgreSQL refuses to run as root, so when we are root
the cluster is owned by and run as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest version wins)."""
    env = os.environ.get("FT_PG_BINDIR")
    if env:
        return Path(env)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if candidates:
        return Path(candidates[-1])
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError("PostgreSQL server binaries not found; run `make setup` or install postgresql.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedPostgres:
    """A private cluster in ``data_dir`` listening on 127.0.0.1:``port``."""

    def __init__(self, data_dir: Path, port: int | None = None, user: str = "floorticket") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.user = user
        self.bindir = find_bindir()
        self._as_root = os.geteuid() == 0
        self.socket_dir = self.data_dir / "run"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/floorticket"

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [args[0] if args[0].startswith("/") else str(self.bindir / args[0]), *args[1:]]
        kwargs: dict[str, object] = {}
        if self._as_root:
            pw = pwd.getpwnam("postgres")
            kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            cmd, check=check, capture_output=True, text=True, cwd="/", **kwargs
        )

    def _own(self, path: Path) -> None:
        if self._as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._own(self.data_dir)
        if self._as_root and self._run("/usr/bin/test", "-w", str(self.data_dir), check=False).returncode != 0:
            raise RuntimeError(
                f"PostgreSQL runs as the 'postgres' user, which cannot reach {self.data_dir}: every folder above "
                "it must be searchable by other users (chmod o+x), or set FT_DATA_DIR to such a folder."
            )
        if self.initialised():
            return
        result = self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                "\n# floorticket embedded settings\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "max_connections = 300\n"
                "shared_buffers = 128MB\n"
                "wal_level = replica\n"
                "max_wal_senders = 4\n"
                "fsync = on\n"
            )

    def start(self, fast: bool = False, create_database: bool = True) -> None:
        self.init()
        self.socket_dir.mkdir(exist_ok=True)
        self._own(self.socket_dir)
        opts = f"-p {self.port}"
        if fast:  # throwaway test clusters trade durability for speed
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = self.data_dir / "server.log"
        result = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(log), "-o", opts, "-w", "-t", "60", "start", check=False
        )
        if result.returncode != 0:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start:\n{result.stdout}\n{result.stderr}\n{text[-2000:]}")
        self._wait_ready()
        self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            "postgres",
            "-qc",
            "SELECT 1",
            check=False,
        )
        exists = self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            "postgres",
            "-tAc",
            "SELECT 1 FROM pg_database WHERE datname='floorticket'",
            check=False,
        )
        if exists.stdout.strip() != "1":
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "floorticket")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not accept connections on port {self.port}")

    def make_standby(self, data_dir: Path, port: int | None = None, name: str = "standby1") -> EmbeddedPostgres:
        """A streaming replica of this (running) cluster, started and replaying.

        ``pg_basebackup -R`` writes ``standby.signal`` and ``primary_conninfo``; the replica then
        follows the primary until promoted. See docs/operations.md.
        """
        standby = EmbeddedPostgres(data_dir, port=port, user=self.user)
        standby.data_dir.mkdir(parents=True, exist_ok=True)
        standby.data_dir.chmod(0o700)
        standby._own(standby.data_dir)
        result = self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-D",
            str(standby.data_dir),
            "-X",
            "stream",
            "-R",
            "-c",
            "fast",
            "-d",
            f"application_name={name}",
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed:\n{result.stderr}")
        conf = standby.data_dir / "postgresql.conf"
        with conf.open("a") as f:
            f.write(f"\nunix_socket_directories = '{standby.socket_dir}'\nhot_standby = on\n")
        standby.start(create_database=False)
        return standby

    def promote(self) -> None:
        result = self._run("pg_ctl", "-D", str(self.data_dir), "-w", "promote", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"promote failed:\n{result.stderr}")

    def stop(self, mode: str = "fast") -> None:
        if self.initialised():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    def running(self) -> bool:
        result = self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False)
        return result.returncode == 0
