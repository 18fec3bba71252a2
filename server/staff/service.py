"""Staff administration: a manager lists, creates, changes and deactivates the staff of their store.

Rules: only an admin creates, changes or promotes to admin; floor and till roles need a PIN,
managers and admins a password; nobody deactivates themselves; deactivation and new credentials
end the person's sessions. Secrets are hashed with Argon2id and never logged or audited.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import msgspec

from protocol.errors import Codes
from protocol.identity import IdentityCodes, StaffCreate, StaffCredentials, StaffUpdate, StaffView
from protocol.ids import new_id
from server.audit import record
from server.auth.guards import ADMIN, MANAGERS, Caller
from server.auth.passwords import hash_secret
from server.auth.repository import revoke_staff_sessions
from server.errors import AppError, Conflict, Forbidden, NotFound
from server.staff import repository as repo


def view(row: asyncpg.Record) -> StaffView:
    return StaffView(**{f: row[f] for f in StaffView.__struct_fields__})


async def _hash(secret: str | None) -> str | None:
    return None if secret is None else await asyncio.to_thread(hash_secret, secret)


def _missing(field: str, message: str) -> AppError:
    return AppError(Codes.VALIDATION, message, details={"field": field})


def _may_manage_role(caller: Caller, role: str) -> None:
    if role == ADMIN and caller.role != ADMIN:
        raise Forbidden("Only an admin may create, change or appoint an admin.", role=role)


async def _visible(
    conn: asyncpg.Connection, caller: Caller, staff_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record:
    row = await repo.get(conn, staff_id, for_update=for_update)
    if row is None or not caller.may_see_store(row["store_id"]):
        raise NotFound("staff member", staff_id)
    _may_manage_role(caller, row["role"])
    return row


async def list_staff(conn: asyncpg.Connection, caller: Caller) -> list[StaffView]:
    return [view(r) for r in await repo.list_for_store(conn, caller.store_id)]


async def get_staff(conn: asyncpg.Connection, caller: Caller, staff_id: uuid.UUID) -> StaffView:
    row = await repo.get(conn, staff_id)
    if row is None or not caller.may_see_store(row["store_id"]):
        raise NotFound("staff member", staff_id)
    return view(row)


async def create(conn: asyncpg.Connection, caller: Caller, body: StaffCreate) -> StaffView:
    """Add a staff member to the caller's store."""
    _may_manage_role(caller, body.role)
    if body.role in MANAGERS and body.password is None:
        raise _missing("password", "Managers and admins need a password (at least 8 characters).")
    if body.role not in MANAGERS and body.pin is None:
        raise _missing("pin", "Floor and till staff need a PIN of 4 to 8 digits.")
    pin_hash, password_hash = await _hash(body.pin), await _hash(body.password)
    async with conn.transaction():
        if body.counter_id is not None and not await repo.counter_in_store(conn, body.counter_id, caller.store_id):
            raise NotFound("counter", body.counter_id)
        row = await repo.insert(
            conn, new_id(), caller.store_id, body.code, body.name, body.role, body.counter_id, pin_hash, password_hash
        )
        if row is None:
            raise Conflict(
                f"The staff code {body.code!r} is already in use; choose another.",
                IdentityCodes.STAFF_CODE_TAKEN,
                field="code",
            )
        await _audit(conn, caller, "staff.created", row["id"], {"code": body.code, "role": body.role})
    return view(row)


async def update(conn: asyncpg.Connection, caller: Caller, staff_id: uuid.UUID, body: StaffUpdate) -> StaffView:
    """Change name, role, counter or active; only the fields sent."""
    changes: dict[str, Any] = {f: getattr(body, f) for f in repo.UPDATABLE if getattr(body, f) is not msgspec.UNSET}
    async with conn.transaction():
        row = await _visible(conn, caller, staff_id, for_update=True)
        if not changes:
            return view(row)
        if "role" in changes:
            _may_manage_role(caller, changes["role"])
            if changes["role"] in MANAGERS and not row["has_password"]:
                raise _missing("role", "Set a password for this person before making them a manager or admin.")
            if changes["role"] not in MANAGERS and not row["has_pin"]:
                raise _missing("role", "Set a PIN for this person before giving them a floor or till role.")
        if changes.get("counter_id") is not None and not await repo.counter_in_store(
            conn, changes["counter_id"], row["store_id"]
        ):
            raise NotFound("counter", changes["counter_id"])
        if changes.get("active") is False:
            if staff_id == caller.staff_id:
                raise Conflict("You cannot deactivate yourself; ask another manager.", field="active")
            await revoke_staff_sessions(conn, staff_id)
        updated = await repo.update(conn, staff_id, changes)
        details = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in changes.items()}
        await _audit(conn, caller, "staff.changed", staff_id, details)
    return view(updated)


async def deactivate(conn: asyncpg.Connection, caller: Caller, staff_id: uuid.UUID) -> StaffView:
    return await update(conn, caller, staff_id, StaffUpdate(active=False))


async def set_credentials(
    conn: asyncpg.Connection, caller: Caller, staff_id: uuid.UUID, body: StaffCredentials
) -> StaffView:
    """New PIN and/or password. Lifts a lockout and ends the person's sessions."""
    if body.pin is None and body.password is None:
        raise _missing("pin", "Send a new PIN, a new password, or both.")
    pin_hash, password_hash = await _hash(body.pin), await _hash(body.password)
    async with conn.transaction():
        await _visible(conn, caller, staff_id, for_update=True)
        row = await repo.set_credentials(conn, staff_id, pin_hash, password_hash)
        await revoke_staff_sessions(conn, staff_id)
        changed = [name for name, value in (("pin", body.pin), ("password", body.password)) if value is not None]
        await _audit(conn, caller, "staff.credentials_changed", staff_id, {"changed": changed})
    return view(row)


async def unlock(conn: asyncpg.Connection, caller: Caller, staff_id: uuid.UUID) -> StaffView:
    """Lift a sign-in lockout before it runs out."""
    async with conn.transaction():
        await _visible(conn, caller, staff_id, for_update=True)
        row = await repo.unlock(conn, staff_id)
        await _audit(conn, caller, "staff.unlocked", staff_id, {})
    return view(row)


async def _audit(
    conn: asyncpg.Connection, caller: Caller, action: str, staff_id: uuid.UUID, details: dict[str, Any]
) -> None:
    await record(
        conn,
        store_id=caller.store_id,
        staff_id=caller.staff_id,
        device_id=caller.device_id,
        action=action,
        object_type="staff",
        object_id=staff_id,
        details=details,
    )
