"""The store's settings as the till applies them (``GET /api/device/till-settings``), read with the
till's device token on every reconnect and kept in the device store, so the points value, the refund
limit and the currency the server last gave still hold offline and after a restart. Before the first
answer the server's documented defaults apply."""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec

from cashier_app.presenters.ports import TillContext
from client_common.adapters.identity import Device, port_error
from client_common.api import ApiError
from client_common.presenters.ports import EnrolledDevice, Refused, Unreachable
from protocol.till import TillSettings

log = logging.getLogger(__name__)

PATH = "/api/device/till-settings"
KEY = "till_settings"


class TillSettingsCache:
    def __init__(self, device: Device) -> None:
        self._device = device
        raw = device.store.get(KEY)
        self._settings: TillSettings | None = None if raw is None else msgspec.convert(raw, TillSettings)
        self._listeners: list[Callable[[TillSettings], None]] = []

    @property
    def current(self) -> TillSettings | None:
        """The last settings the server gave (None before the first answer)."""
        return self._settings

    def observe(self, listener: Callable[[TillSettings], None]) -> None:
        self._listeners.append(listener)

    async def refresh(self) -> TillSettings:
        """Ask the server and keep the answer; ``Refused``/``Unreachable`` when it cannot say."""
        api = self._device.api()
        try:
            fresh = await api.device_call("GET", PATH, TillSettings)
        except ApiError as exc:
            raise port_error(exc) from None
        finally:
            await api.aclose()
        self._device.store.set(KEY, msgspec.to_builtins(fresh))
        self._settings = fresh
        for listener in list(self._listeners):
            listener(fresh)
        return fresh

    async def refresh_quietly(self) -> None:
        """For the sync loop: a failure leaves the cached settings in force."""
        try:
            await self.refresh()
        except (Refused, Unreachable) as exc:  # the cached settings stay in force
            log.info("till settings not refreshed: %s", exc)

    def points_per_yuan(self) -> int:
        return self._settings.points_per_yuan if self._settings else TillContext.points_per_yuan

    def context(self, device: EnrolledDevice) -> TillContext:
        """The till's rules for its presenters, from the cached settings."""
        s = self._settings
        if s is None:
            return TillContext(device_id=device.device_id, store_id=device.store_id)
        return TillContext(
            device_id=device.device_id,
            store_id=device.store_id,
            refund_approval_limit=s.refund_approval_limit,
            points_per_yuan=s.points_per_yuan,
            currency=s.currency,
        )
