"""Who is calling, and may they? Applied to every route; a route is public only if it says so.

Each route declares ``opt={"roles": (...)}`` (staff bearer token), ``opt={"device": ("handheld",
"till")}`` (device token) or ``opt={"public": True}``. The guard verifies the
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
from server.auth.tokens import digest, verify
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


class DeviceCaller(msgspec.Struct, frozen=True):
    """An enrolled device speaking for itself (command uploads, the websocket)."""

    device_id: uuid.UUID
    store_id: uuid.UUID
    kind: str  # handheld | till
    counter_id: uuid.UUID | None = None


FIND_DEVICE = """
SELECT id, store_id, kind, counter_id, state FROM device WHERE token_hash = $1
"""


async def device_by_token(pool: Any, token: str) -> DeviceCaller:
    """The active device holding ``token``, or ``Unauthenticated`` (``device_revoked`` if revoked)."""
    row = await pool.fetchrow(FIND_DEVICE, digest(token))
    if row is None:
        raise Unauthenticated("This device is not enrolled; enter an enrollment code from a manager.")
    if row["state"] != "active":
        raise Unauthenticated("This device has been revoked; ask a manager to enroll it again.", Codes.DEVICE_REVOKED)
    await pool.execute("UPDATE device SET last_seen_at = now() WHERE id = $1", row["id"])
    return DeviceCaller(device_id=row["id"], store_id=row["store_id"], kind=row["kind"], counter_id=row["counter_id"])


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
    kinds = opt.get("device")
    header = connection.headers.get("authorization", "")
    # A route may take a device token, a staff token, or either (``device`` and ``roles`` both set):
    # then the scheme of the Authorization header says which.
    if kinds is not None and (opt.get("roles") is None or header.lower().startswith("device ")):
        # Device routes: ``Authorization: Device <token>``.
        if not header.lower().startswith("device "):
            raise Unauthenticated("This request needs the device token: Authorization: Device <token>.")
        device = await device_by_token(connection.app.state.pool, header[7:].strip())
        if device.kind not in kinds:
            raise Forbidden(f"A {device.kind} may not do this; it needs a {' or '.join(kinds)}.")
        connection.state.device = device
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


async def provide_device(request: ASGIConnection[Any, Any, Any, Any]) -> DeviceCaller:
    device = getattr(request.state, "device", None)
    if device is None:
        raise Unauthenticated("This request needs the device token.")
    assert isinstance(device, DeviceCaller)
    return device


def store_of(connection: ASGIConnection[Any, Any, Any, Any]) -> uuid.UUID:
    """The store of whoever passed the guard: the signed-in staff member's or the device's."""
    caller = getattr(connection.state, "caller", None)
    if isinstance(caller, Caller):
        return caller.store_id
    device = getattr(connection.state, "device", None)
    if isinstance(device, DeviceCaller):
        return device.store_id
    raise Unauthenticated()
