"""Ledger endpoints: the managers' invariant check and jobs, and the tills' offline allowances."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from protocol.members import Allowance, AllowanceGrant, AllowanceSpend, ExpiryResult, InvariantReport
from server.auth.guards import MANAGERS
from server.deps import Conn, DeviceDep
from server.ledger import allowance, jobs


class LedgerAdminController(Controller):
    path = "/api/admin/ledger"
    tags = ("ledger",)

    @get("/check", operation_id="check_ledger", opt={"roles": MANAGERS})
    async def check(self, conn: Conn) -> InvariantReport:
        async with conn.transaction(isolation="repeatable_read", readonly=True):  # one consistent snapshot
            return await jobs.check_invariants(conn)

    @post("/expire-ecoin", operation_id="expire_ecoin", opt={"roles": MANAGERS}, status_code=200)
    async def expire(self, conn: Conn) -> ExpiryResult:
        async with conn.transaction():
            return await jobs.expire_ecoin(conn)


class AllowanceController(Controller):
    """A till's offline spending allowance (device token)."""

    path = "/api/device/allowances"
    tags = ("ledger",)

    @post("/", operation_id="grant_allowance", opt={"device": ("till",)})
    async def grant(self, conn: Conn, device: DeviceDep, data: JSONBody[AllowanceGrant]) -> Allowance:
        async with conn.transaction():
            return await allowance.grant(conn, store_id=device.store_id, device_id=device.device_id, request=data)

    @post("/{allowance_id:uuid}/spends", operation_id="spend_allowance", opt={"device": ("till",)}, status_code=200)
    async def spend(
        self,
        conn: Conn,
        device: DeviceDep,
        allowance_id: FromPath[uuid.UUID],
        data: JSONBody[AllowanceSpend],
    ) -> Allowance:
        async with conn.transaction():
            return await allowance.spend(conn, allowance_id=allowance_id, device_id=device.device_id, request=data)

    @post("/{allowance_id:uuid}/return", operation_id="return_allowance", opt={"device": ("till",)}, status_code=200)
    async def give_back(self, conn: Conn, device: DeviceDep, allowance_id: FromPath[uuid.UUID]) -> Allowance:
        async with conn.transaction():
            return await allowance.give_back(conn, allowance_id=allowance_id, device_id=device.device_id)
