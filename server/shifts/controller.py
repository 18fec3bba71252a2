"""``/shifts``: open a shift on a till, cash movements, X report, close with the Z report."""

from __future__ import annotations

import uuid
from typing import TypeAlias

import asyncpg
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from protocol.payments import CashMovement, CloseShift, Movement, OpenShift, Shift, ShiftReport
from server.auth.guards import TILL, Caller
from server.shifts import service

Conn: TypeAlias = NamedDependency[asyncpg.Connection]
CallerDep: TypeAlias = NamedDependency[Caller]


class ShiftsController(Controller):
    path = "/shifts"
    tags = ["shifts"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", operation_id="openShift", opt={"roles": TILL}, status_code=200)
    async def open(self, data: JSONBody[OpenShift], conn: Conn, caller: CallerDep) -> Shift:
        """Open a shift on a till with its cash float; retry with the same shift id is a replay."""
        return await service.open_shift(conn, caller, data)

    @get("/current", operation_id="currentShift", opt={"roles": TILL})
    async def current(self, conn: Conn, caller: CallerDep, till_id: FromQuery[uuid.UUID | None] = None) -> Shift:
        """The open shift of a till (the caller's own till by default)."""
        return await service.current_shift(conn, caller, till_id)

    @get("/{shift_id:uuid}", operation_id="getShift", opt={"roles": TILL})
    async def get_one(self, shift_id: FromPath[uuid.UUID], conn: Conn, caller: CallerDep) -> Shift:
        return await service.get_shift(conn, caller, shift_id)

    @post("/{shift_id:uuid}/movements", operation_id="recordCashMovement", opt={"roles": TILL}, status_code=200)
    async def movement(
        self, shift_id: FromPath[uuid.UUID], data: JSONBody[CashMovement], conn: Conn, caller: CallerDep
    ) -> Movement:
        """A pay-in, pay-out or cash drop."""
        return await service.cash_movement(conn, caller, shift_id, data)

    @get("/{shift_id:uuid}/report", operation_id="shiftReport", opt={"roles": TILL})
    async def report(self, shift_id: FromPath[uuid.UUID], conn: Conn, caller: CallerDep) -> ShiftReport:
        """X report while open; the Z report once closed."""
        return await service.report(conn, caller, shift_id)

    @post("/{shift_id:uuid}/close", operation_id="closeShift", opt={"roles": TILL}, status_code=200)
    async def close(
        self, shift_id: FromPath[uuid.UUID], data: JSONBody[CloseShift], conn: Conn, caller: CallerDep
    ) -> ShiftReport:
        """Close with the counted cash; answers the Z report (over/short per tender)."""
        return await service.close_shift(conn, caller, shift_id, data)
