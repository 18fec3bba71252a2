"""``/devices``: managers create, list and revoke devices; devices enroll and look up keys."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from protocol.identity import (
    DeviceCreate,
    DeviceCreated,
    DeviceDirectory,
    DeviceKey,
    DeviceView,
    Enrolled,
    EnrollmentCode,
    EnrollRequest,
)
from server.auth.guards import FLOOR, MANAGERS, store_of
from server.deps import CallerDep, Conn
from server.devices import service

DEVICES = ("handheld", "till")


class DeviceController(Controller):
    path = "/devices"
    tags = ["devices"]  # noqa: RUF012

    @get("/", operation_id="listDevices", opt={"roles": MANAGERS})
    async def list_devices(self, conn: Conn, caller: CallerDep) -> list[DeviceView]:
        return await service.list_devices(conn, caller)

    @post("/", operation_id="createDevice", opt={"roles": MANAGERS})
    async def create_device(
        self, conn: Conn, caller: CallerDep, state: State, data: JSONBody[DeviceCreate]
    ) -> DeviceCreated:
        return await service.create_device(conn, caller, data, state.settings.enrollment_code_minutes)

    @get("/{device_id:uuid}", operation_id="getDevice", opt={"roles": MANAGERS})
    async def get_device(self, conn: Conn, caller: CallerDep, device_id: FromPath[uuid.UUID]) -> DeviceView:
        return await service.get_device(conn, caller, device_id)

    @post("/{device_id:uuid}/enrollment-code", operation_id="createEnrollmentCode", opt={"roles": MANAGERS})
    async def enrollment_code(
        self, conn: Conn, caller: CallerDep, state: State, device_id: FromPath[uuid.UUID]
    ) -> EnrollmentCode:
        return await service.new_enrollment_code(conn, caller, device_id, state.settings.enrollment_code_minutes)

    @post("/{device_id:uuid}/revoke", operation_id="revokeDevice", opt={"roles": MANAGERS}, status_code=200)
    async def revoke(self, conn: Conn, caller: CallerDep, device_id: FromPath[uuid.UUID]) -> DeviceView:
        return await service.revoke(conn, caller, device_id)

    @post("/enroll", operation_id="enrollDevice", opt={"public": True}, status_code=200)
    async def enroll(self, conn: Conn, data: JSONBody[EnrollRequest]) -> Enrolled:
        return await service.enroll(conn, data)

    @get("/{device_id:uuid}/public-key", operation_id="devicePublicKey", opt={"device": DEVICES, "roles": FLOOR})
    async def public_key(
        self, conn: Conn, request: Request[Any, Any, Any], device_id: FromPath[uuid.UUID]
    ) -> DeviceKey:
        return await service.public_key(conn, store_of(request), device_id)

    @get("/directory", operation_id="deviceDirectory", opt={"device": DEVICES, "roles": FLOOR})
    async def directory(self, conn: Conn, request: Request[Any, Any, Any]) -> DeviceDirectory:
        return await service.directory(conn, store_of(request))
