"""Devices: creation by a manager, one-time enrollment codes, enrollment, revocation, public keys.

An enrollment code is random, shown once, stored as a hash, expires, and can be used once; the
device sends it with its Ed25519 public key and receives a device token (also stored only as a
hash). A revoked device stays revoked: its token answers ``device_revoked`` and its sessions end.
To bring the hardware back, a manager creates a new device for it.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import uuid

import asyncpg

from protocol.errors import Codes
from protocol.identity import (
    DeviceCreate,
    DeviceCreated,
    DeviceDirectory,
    DeviceKey,
    DeviceView,
    Enrolled,
    EnrollmentCode,
    EnrollRequest,
    IdentityCodes,
)
from protocol.ids import new_id
from server.audit import record
from server.auth.guards import Caller
from server.auth.repository import revoke_device_sessions
from server.auth.tokens import digest, random_secret
from server.devices import repository as repo
from server.errors import AppError, Conflict, NotFound

CODE_DIGITS = 12
_SEPARATORS = re.compile(r"[\s-]+")


def new_code() -> tuple[str, str]:
    """A fresh code as shown to the manager (grouped by four) and as hashed (digits only)."""
    digits = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    return "-".join(digits[i : i + 4] for i in range(0, CODE_DIGITS, 4)), digits


def normalise_code(code: str) -> str:
    """What a person typed, without spaces or dashes (so ``1234-5678`` and ``1234 5678`` match)."""
    return _SEPARATORS.sub("", code)


def decode_public_key(text: str) -> bytes:
    """An Ed25519 public key from base64 (standard or URL-safe, padding optional): exactly 32 bytes."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise AppError(
            IdentityCodes.BAD_PUBLIC_KEY,
            "The public key must be an Ed25519 key: 32 bytes, base64-encoded.",
            details={"field": "public_key"},
        )
    return raw


def _b64(raw: bytes | None) -> str | None:
    return base64.b64encode(raw).decode() if raw is not None else None


def view(row: asyncpg.Record) -> DeviceView:
    return DeviceView(
        id=row["id"],
        store_id=row["store_id"],
        kind=row["kind"],
        label=row["label"],
        counter_id=row["counter_id"],
        state=row["state"],
        public_key=_b64(row["public_key"]),
        last_seen_at=row["last_seen_at"],
        enrolled_at=row["enrolled_at"],
        revoked_at=row["revoked_at"],
        created_at=row["created_at"],
    )


def key_of(row: asyncpg.Record) -> DeviceKey:
    return DeviceKey(
        device_id=row["id"],
        kind=row["kind"],
        label=row["label"],
        counter_id=row["counter_id"],
        state=row["state"],
        public_key=_b64(row["public_key"]),
    )


async def _visible(
    conn: asyncpg.Connection, caller: Caller, device_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record:
    row = await repo.get(conn, device_id, for_update=for_update)
    if row is None or not caller.may_see_store(row["store_id"]):
        raise NotFound("device", device_id)
    return row


async def list_devices(conn: asyncpg.Connection, caller: Caller) -> list[DeviceView]:
    return [view(r) for r in await repo.list_for_store(conn, caller.store_id)]


async def get_device(conn: asyncpg.Connection, caller: Caller, device_id: uuid.UUID) -> DeviceView:
    return view(await _visible(conn, caller, device_id))


async def create_device(conn: asyncpg.Connection, caller: Caller, body: DeviceCreate, minutes: int) -> DeviceCreated:
    """A pending device of the caller's store and its first enrollment code."""
    async with conn.transaction():
        if body.counter_id is not None and not await repo.counter_in_store(conn, body.counter_id, caller.store_id):
            raise NotFound("counter", body.counter_id)
        device_id = new_id()
        await repo.insert(conn, device_id, caller.store_id, body.kind, body.label, body.counter_id)
        await record(
            conn,
            store_id=caller.store_id,
            staff_id=caller.staff_id,
            device_id=caller.device_id,
            action="device.created",
            object_type="device",
            object_id=device_id,
            details={"kind": body.kind, "label": body.label},
        )
        code = await _issue_code(conn, caller, device_id, minutes)
        row = await repo.get(conn, device_id)
        assert row is not None
    return DeviceCreated(device=view(row), enrollment=code)


async def new_enrollment_code(
    conn: asyncpg.Connection, caller: Caller, device_id: uuid.UUID, minutes: int
) -> EnrollmentCode:
    """A fresh code for a device still waiting to be enrolled; earlier unused codes stop working."""
    async with conn.transaction():
        row = await _visible(conn, caller, device_id, for_update=True)
        if row["state"] != "pending":
            raise Conflict(
                f"This device is {row['state']}; only a device waiting for enrollment gets a code. "
                "For replacement hardware, create a new device.",
                IdentityCodes.DEVICE_NOT_PENDING,
                state=row["state"],
            )
        return await _issue_code(conn, caller, device_id, minutes)


async def _issue_code(conn: asyncpg.Connection, caller: Caller, device_id: uuid.UUID, minutes: int) -> EnrollmentCode:
    shown, digits = new_code()
    expires = await repo.replace_code(conn, digest(digits), device_id, minutes, caller.staff_id)
    await record(
        conn,
        store_id=caller.store_id,
        staff_id=caller.staff_id,
        device_id=caller.device_id,
        action="device.enrollment_code_created",
        object_type="device",
        object_id=device_id,
        details={"expires_at": expires.isoformat()},
    )
    return EnrollmentCode(device_id=device_id, code=shown, expires_at=expires)


async def enroll(conn: asyncpg.Connection, body: EnrollRequest) -> Enrolled:
    """Spend a one-time code: the device gets its identity and token, the server keeps its public key."""
    public_key = decode_public_key(body.public_key)
    code_hash = digest(normalise_code(body.code))
    async with conn.transaction():
        code = await repo.code_for_update(conn, code_hash)
        if code is None:
            raise AppError(
                Codes.ENROLLMENT_CODE_INVALID,
                "This enrollment code is not known; check it or ask a manager for a new one.",
                details={"field": "code"},
            )
        if code["used_at"] is not None:
            raise AppError(
                Codes.ENROLLMENT_CODE_USED,
                "This enrollment code has already been used; ask a manager for a new one.",
                status=409,
                details={"field": "code"},
            )
        if code["expires_at"] <= code["now"]:
            raise AppError(
                Codes.ENROLLMENT_CODE_EXPIRED,
                "This enrollment code has expired; ask a manager for a new one.",
                details={"field": "code", "expired_at": code["expires_at"].isoformat()},
            )
        device = await repo.get(conn, code["device_id"], for_update=True)
        assert device is not None
        if device["state"] != "pending":
            raise AppError(
                Codes.ENROLLMENT_CODE_INVALID,
                "The device this code was made for can no longer be enrolled; ask a manager for a new device.",
                details={"field": "code"},
            )
        await repo.use_code(conn, code_hash)
        token = random_secret()
        row = await repo.activate(conn, device["id"], public_key, digest(token))
        await record(
            conn,
            store_id=row["store_id"],
            staff_id=None,
            device_id=row["id"],
            action="device.enrolled",
            object_type="device",
            object_id=row["id"],
            details={"kind": row["kind"], "label": row["label"]},
        )
    return Enrolled(
        device_id=row["id"],
        store_id=row["store_id"],
        store_code=row["store_code"],
        counter_id=row["counter_id"],
        kind=row["kind"],
        label=row["label"],
        device_token=token,
        counter_code=row["counter_code"] or "",
        device_code=device_code(row["kind"], row["device_ordinal"]),
    )


def device_code(kind: str, ordinal: int) -> str:
    """A short code for ticket numbers, unique among the store's devices of its kind at its counter:
    H1, H2 … for handhelds, T1 … for tills."""
    return ("H" if kind == "handheld" else "T") + str(ordinal)


async def revoke(conn: asyncpg.Connection, caller: Caller, device_id: uuid.UUID) -> DeviceView:
    """Revoke a device: its token is refused from the next request on, its sessions and unused codes end."""
    async with conn.transaction():
        row = await _visible(conn, caller, device_id, for_update=True)
        if row["state"] == "revoked":
            return view(row)
        row = await repo.revoke(conn, device_id)
        await repo.expire_codes(conn, device_id)
        await revoke_device_sessions(conn, device_id)
        await record(
            conn,
            store_id=row["store_id"],
            staff_id=caller.staff_id,
            device_id=caller.device_id,
            action="device.revoked",
            object_type="device",
            object_id=device_id,
            details={"label": row["label"], "kind": row["kind"]},
        )
    return view(row)


async def public_key(conn: asyncpg.Connection, store_id: uuid.UUID, device_id: uuid.UUID) -> DeviceKey:
    """The key of a device of the caller's store, with its state (a revoked device's signatures deserve doubt)."""
    row = await repo.get(conn, device_id)
    if row is None or row["store_id"] != store_id:
        raise NotFound("device", device_id)
    return key_of(row)


async def directory(conn: asyncpg.Connection, store_id: uuid.UUID) -> DeviceDirectory:
    return DeviceDirectory(store_id=store_id, devices=[key_of(r) for r in await repo.directory(conn, store_id)])
