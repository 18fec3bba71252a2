"""``/health``: is the database reachable, and which migration is it on."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response, get

from protocol import PROTOCOL_VERSION
from server.db.migrate import available, current_version


class Health(msgspec.Struct):
    status: str
    database: str
    migration_version: int
    expected_migration_version: int
    protocol_version: int


@get("/health", opt={"public": True}, operation_id="health", tags=["health"])
async def health(request: Request[Any, Any, Any]) -> Response[Health]:
    expected = available()[-1].version
    try:
        async with request.app.state.pool.acquire(timeout=3) as conn:
            version = await current_version(conn)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        body = Health("unavailable", "unreachable", 0, expected, PROTOCOL_VERSION)
        return Response(body, status_code=503)
    ok = version == expected
    body = Health("ok" if ok else "degraded", "ok", version, expected, PROTOCOL_VERSION)
    return Response(body, status_code=200 if ok else 503)
