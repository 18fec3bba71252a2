"""Who is calling, and may they? Applied to every route; a route is public only if it says so.

Each route declares ``opt={"roles": (...)}`` (or ``opt={"public": True}``). The guard verifies the
bearer token, refuses revoked devices and inactive staff, and stores the ``Caller`` on the request.
Store ownership is checked in services: another store's object answers as not found.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from protocol.errors import Codes
from server.auth.tokens import verify
from server.errors import Forbidden, Unauthenticated

SALES, CASHIER, SUPERVISOR, MANAGER, ADMIN = "sales", "cashier", "supervisor", "manager", "admin"
FLOOR = (SALES, CASHIER, SUPERVISOR, MANAGER, ADMIN)
TILL = (CASHIER, SUPERVISOR, MANAGER, ADMIN)
SUPERVISORS = (SUPERVISOR, MANAGER, ADMIN)
MANAGERS = (MANAGER, ADMIN)
ADMINS = (ADMIN,)


class Caller(msgspec.Struct, frozen=True):
    staff_id: uuid.UUID
    store_id: uuid.UUID
    role: str
    device_id: uuid.UUID | None = None

    @property
    def chain_wide(self) -> bool:
        """Admins work across the chain; everyone else only in their home store."""
        return self.role == ADMIN

    def may_see_store(self, store_id: uuid.UUID) -> bool:
        return self.chain_wide or store_id == self.store_id


CHECK_STAFF = """
SELECT s.active AS staff_active,
       d.state AS device_state
FROM staff s
LEFT JOIN device d ON d.id = $2
WHERE s.id = $1
"""


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    header = connection.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise Unauthenticated("Sign in first: this request carries no bearer token.")
    claims = verify(header[7:].strip(), connection.app.state.settings.secret_key)
    pool = connection.app.state.pool
    row = await pool.fetchrow(CHECK_STAFF, claims.sub, claims.dev)
    if row is None or not row["staff_active"]:
        raise Unauthenticated("This staff account is no longer active; ask a manager.")
    if claims.dev is not None and row["device_state"] != "active":
        raise Unauthenticated("This device has been revoked; ask a manager to enroll it again.", Codes.DEVICE_REVOKED)
    return Caller(staff_id=claims.sub, store_id=claims.store, role=claims.role, device_id=claims.dev)


async def access_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    opt = handler.opt
    if opt.get("public"):
        return
    caller = await authenticate(connection)
    roles = opt.get("roles")
    if roles is None:
        raise Forbidden("This endpoint has no access rule; it is closed until it gets one.")
    if caller.role not in roles:
        raise Forbidden(
            f"Your role ({caller.role}) may not do this; it needs one of: {', '.join(roles)}.",
            role=caller.role,
            allowed=list(roles),
        )
    connection.state.caller = caller


async def provide_caller(request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    caller = getattr(request.state, "caller", None)
    if caller is None:
        raise Unauthenticated()
    assert isinstance(caller, Caller)
    return caller
