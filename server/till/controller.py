"""``/api/device/till-settings`` and ``/api/device/till-allowances``: what a till reads with its device
token (and caches for offline work)."""

from __future__ import annotations

from litestar import Controller, get

from protocol.till import TillAllowances, TillSettings
from server.checkout.controller import DEPENDENCIES, ConfigDep
from server.deps import Conn, DeviceDep
from server.till import service


class TillDeviceController(Controller):
    path = "/api/device"
    tags = ("till",)
    dependencies = DEPENDENCIES

    @get("/till-settings", operation_id="tillSettings", opt={"device": ("till",)})
    async def till_settings(self, conn: Conn, device: DeviceDep, config: ConfigDep) -> TillSettings:
        """The store's settings the till applies before the server does: points value, refund limit,
        currency. Read on every reconnect; the till keeps the last answer for offline work."""
        return await service.settings(conn, device.store_id, config)

    @get("/till-allowances", operation_id="tillAllowances", opt={"device": ("till",)})
    async def till_allowances(self, conn: Conn, device: DeviceDep) -> TillAllowances:
        """This till's open offline spending allowances."""
        return await service.allowances(conn, device.store_id, device.device_id)
