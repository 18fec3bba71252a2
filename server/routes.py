"""Every route handler and controller of the server, in one list (the one place to register)."""

from __future__ import annotations

from typing import Any

from server.health.controller import health
from server.payments.controller import PaymentsController
from server.shifts.controller import ShiftsController

ROUTES: list[Any] = [
    health,
    PaymentsController,
    ShiftsController,
]
