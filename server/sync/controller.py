"""``POST /sync/commands``: a device's offline outbox in one request, answered per command."""

from __future__ import annotations

import asyncpg
import msgspec
from litestar import post
from litestar.di import NamedDependency
from litestar.params import RawBody

from protocol.tickets import BatchResult, CommandBatch
from server import strict_body
from server.auth.guards import DeviceCaller
from server.sync import service

_batch = msgspec.json.Decoder(CommandBatch)


@post(
    "/sync/commands",
    opt={"device": ("handheld", "till"), "body": CommandBatch},
    operation_id="syncCommands",
    tags=["sync"],
    status_code=200,
    request_max_body_size=64 * 1024 * 1024,
)
async def upload_commands(
    body: RawBody, device: NamedDependency[DeviceCaller], conn: NamedDependency[asyncpg.Connection]
) -> BatchResult:
    """Apply an outbox of up to 5000 commands (a ``CommandBatch``) in order; one result per command.

    The body (megabytes for a big outbox) is decoded once, strictly, rather than by the framework and
    again by the strict-body check."""
    data = strict_body.decode(_batch, body)
    results, last = await service.apply_commands(conn, device, data.commands)
    return BatchResult(results=results, last_applied_seq=last)
