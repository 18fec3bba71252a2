"""Every route handler and controller of the server, in one list (the one place to register)."""

from __future__ import annotations

from typing import Any

from server.health.controller import health
from server.sync.controller import upload_commands
from server.tickets.controller import TicketController
from server.ws.endpoint import stream

ROUTES: list[Any] = [
    health,
    TicketController,
    upload_commands,
    stream,
]
