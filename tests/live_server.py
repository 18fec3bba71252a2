"""The real server (uvicorn, websockets) on a loopback port, in a thread of the test process, so a test
can stop it (the store's Wi-Fi drops) and start it again on the same port with the same database."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from server.app import create_app
from server.db.embedded import free_port
from server.demo import DemoInfo
from server.settings import Settings


class LiveServer:
    def __init__(
        self, dsn: str, settings: Settings, port: int | None = None, state: dict[str, Any] | None = None
    ) -> None:
        self.dsn = dsn
        self.settings = settings
        self.port = port or free_port()
        self.state = state or {}  # set on app.state before start (e.g. fast payment timings)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20) -> None:
        app = create_app(self.settings, dsn=self.dsn)
        for key, value in self.state.items():
            setattr(app.state, key, value)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=15)
        if thread.is_alive():
            raise RuntimeError("the server did not stop")


@pytest.fixture
async def live(db_dsn: str, demo: DemoInfo, settings: Settings) -> AsyncIterator[LiveServer]:
    """The real server over the demo store's migrated database (import this fixture into a test module)."""
    server = LiveServer(db_dsn, settings)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
