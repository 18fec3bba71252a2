"""``POST /sync/commands``: a device's offline outbox in one request, answered per command."""

from __future__ import annotations

import asyncpg
from litestar import post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from protocol.tickets import BatchResult, CommandBatch
from server.auth.guards import DeviceCaller
from server.sync import service


@post(
    "/sync/commands",
    opt={"device": ("handheld", "till")},
    operation_id="syncCommands",
    tags=["sync"],
    status_code=200,
    request_max_body_size=64 * 1024 * 1024,
)
async def upload_commands(
    data: JSONBody[CommandBatch], device: NamedDependency[DeviceCaller], conn: NamedDependency[asyncpg.Connection]
) -> BatchResult:
    """Apply an outbox of up to 5000 commands in order; one result per command."""
    results, last = await service.apply_commands(conn, device, data.commands)
    return BatchResult(results=results, last_applied_seq=last)
