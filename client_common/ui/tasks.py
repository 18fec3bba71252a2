"""Run presenter coroutines on the app's asyncio loop (Kivy ``async_run``) so the UI never waits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)
_running: set[asyncio.Future[Any]] = set()


def spawn(work: Awaitable[Any]) -> asyncio.Future[Any]:
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(_done)
    return task


def _done(task: asyncio.Future[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())
