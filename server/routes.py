"""Every route handler and controller of the server, in one list (the one place to register)."""

from __future__ import annotations

from typing import Any

from server.auth.controller import AuthController
from server.catalog.controller import CatalogController
from server.devices.controller import DeviceController
from server.health.controller import health
from server.staff.controller import StaffController

ROUTES: list[Any] = [
    health,
    AuthController,
    DeviceController,
    StaffController,
    CatalogController,
]
