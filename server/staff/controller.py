"""``/staff``: managers administer the staff of their store."""

from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post, put
from litestar.params import FromPath, JSONBody

from protocol.identity import StaffCreate, StaffCredentials, StaffUpdate, StaffView
from server.auth.guards import MANAGERS
from server.deps import CallerDep, Conn
from server.staff import service


class StaffController(Controller):
    path = "/staff"
    tags = ["staff"]  # noqa: RUF012
    opt = {"roles": MANAGERS}  # noqa: RUF012

    @get("/", operation_id="listStaff")
    async def list_staff(self, conn: Conn, caller: CallerDep) -> list[StaffView]:
        return await service.list_staff(conn, caller)

    @post("/", operation_id="createStaff")
    async def create(self, conn: Conn, caller: CallerDep, data: JSONBody[StaffCreate]) -> StaffView:
        return await service.create(conn, caller, data)

    @get("/{staff_id:uuid}", operation_id="getStaff")
    async def get_staff(self, conn: Conn, caller: CallerDep, staff_id: FromPath[uuid.UUID]) -> StaffView:
        return await service.get_staff(conn, caller, staff_id)

    @patch("/{staff_id:uuid}", operation_id="updateStaff")
    async def update(
        self, conn: Conn, caller: CallerDep, staff_id: FromPath[uuid.UUID], data: JSONBody[StaffUpdate]
    ) -> StaffView:
        return await service.update(conn, caller, staff_id, data)

    @post("/{staff_id:uuid}/deactivate", operation_id="deactivateStaff", status_code=200)
    async def deactivate(self, conn: Conn, caller: CallerDep, staff_id: FromPath[uuid.UUID]) -> StaffView:
        return await service.deactivate(conn, caller, staff_id)

    @put("/{staff_id:uuid}/credentials", operation_id="setStaffCredentials")
    async def credentials(
        self, conn: Conn, caller: CallerDep, staff_id: FromPath[uuid.UUID], data: JSONBody[StaffCredentials]
    ) -> StaffView:
        return await service.set_credentials(conn, caller, staff_id, data)

    @post("/{staff_id:uuid}/unlock", operation_id="unlockStaff", status_code=200)
    async def unlock(self, conn: Conn, caller: CallerDep, staff_id: FromPath[uuid.UUID]) -> StaffView:
        return await service.unlock(conn, caller, staff_id)
