"""Sign-in, refresh and sign-out: the rules.

- A PIN is short, so it is accepted for floor and till roles anywhere, and for managers and admins
  only on an enrolled device; managers and admins otherwise sign in with their password.
- Wrong credentials never say which part was wrong. After ``lockout_attempts`` failures in a row
  the account is locked for ``lockout_minutes``; attempts on a locked account are refused unchecked.
  Attempts on one account are serialised by a row lock, so parallel guessing gets no extra tries.
- Refresh tokens are random, stored hashed, single use and rotated. Presenting a used one again means
  it was copied: the whole family (every token descended from that sign-in) is revoked.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import asyncpg

from protocol.errors import Codes
from protocol.identity import IdentityCodes, Me, Session, SignIn
from protocol.ids import new_id
from server.audit import record
from server.auth import repository as repo
from server.auth.guards import ADMIN, MANAGERS, Caller
from server.auth.passwords import check_secret
from server.auth.tokens import Claims, digest, random_secret, sign
from server.errors import AppError, NotFound, Unauthenticated
from server.settings import Settings


def bad_credentials() -> AppError:
    return AppError(
        Codes.BAD_CREDENTIALS,
        "That staff code and PIN or password do not match; check them and try again.",
        status=401,
    )


def locked_out(until: datetime, now: datetime) -> AppError:
    seconds = max(1, int((until - now).total_seconds() + 0.999))
    return AppError(
        Codes.LOCKED_OUT,
        f"Too many wrong attempts: this account is locked until {until.isoformat(timespec='seconds')}. "
        "Wait, or ask a manager to set a new PIN or password.",
        status=423,
        details={"locked_until": until.isoformat(), "retry_after_seconds": seconds},
    )


async def _check(stored: str | None, given: str) -> bool:
    # Argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(check_secret, stored, given)


async def _bound_device(conn: asyncpg.Connection, device_token: str | None) -> asyncpg.Record | None:
    if not device_token:
        return None
    device = await repo.device_by_token_hash(conn, digest(device_token))
    if device is None:
        raise Unauthenticated("This device is not enrolled; enter an enrollment code from a manager.")
    if device["state"] != "active":
        raise Unauthenticated("This device has been revoked; ask a manager to enroll it again.", Codes.DEVICE_REVOKED)
    return device


async def sign_in(conn: asyncpg.Connection, settings: Settings, body: SignIn, device_token: str | None) -> Session:
    """Check a staff member's credentials and open a session (optionally bound to a device)."""
    if (body.pin is None) == (body.password is None):
        raise AppError(
            Codes.VALIDATION,
            "Send either a PIN or a password (exactly one).",
            details={"field": "pin" if body.pin is None else "password"},
        )
    device = await _bound_device(conn, device_token)
    outcome: Session | AppError
    async with conn.transaction():
        staff = await repo.staff_for_sign_in(conn, body.staff_code)
        outcome = await _attempt(conn, settings, body, staff, device)
    if isinstance(outcome, AppError):
        raise outcome
    return outcome


async def _attempt(
    conn: asyncpg.Connection,
    settings: Settings,
    body: SignIn,
    staff: asyncpg.Record | None,
    device: asyncpg.Record | None,
) -> Session | AppError:
    given = body.pin if body.pin is not None else body.password
    assert given is not None
    if staff is None or not staff["active"]:
        await _check(None, given)  # same time as a real check
        return bad_credentials()
    now: datetime = staff["now"]
    if staff["locked_until"] is not None and staff["locked_until"] > now:
        return locked_out(staff["locked_until"], now)
    if body.pin is not None:
        allowed = staff["role"] not in MANAGERS or device is not None
        ok = await _check(staff["pin_hash"], given) and allowed
    else:
        ok = await _check(staff["password_hash"], given)
    if not ok:
        failed = staff["failed_attempts"] + 1
        if failed >= settings.lockout_attempts:
            until = now + timedelta(minutes=settings.lockout_minutes)
            await repo.record_failure(conn, staff["id"], 0, until)
            await record(
                conn,
                store_id=staff["store_id"],
                staff_id=staff["id"],
                device_id=device["id"] if device else None,
                action="staff.locked_out",
                object_type="staff",
                object_id=staff["id"],
                details={"attempts": failed, "locked_until": until.isoformat()},
            )
            return locked_out(until, now)
        await repo.record_failure(conn, staff["id"], failed, None)
        return bad_credentials()
    if device is not None and device["store_id"] != staff["store_id"] and staff["role"] != ADMIN:
        return AppError(
            IdentityCodes.DEVICE_STORE_MISMATCH,
            "This device belongs to another store; sign in on a device of your own store.",
            status=403,
        )
    await repo.clear_failures(conn, staff["id"])
    return await _open_session(conn, settings, staff, device["id"] if device else None, new_id(), now)


async def _open_session(
    conn: asyncpg.Connection,
    settings: Settings,
    staff: asyncpg.Record,
    device_id: uuid.UUID | None,
    family: uuid.UUID,
    now: datetime,
) -> Session:
    access_expires = now + timedelta(minutes=settings.access_token_minutes)
    claims = Claims(
        sub=staff["id"],
        store=staff["store_id"],
        role=staff["role"],
        exp=int(access_expires.timestamp()),
        dev=device_id,
    )
    refresh = random_secret()
    refresh_expires = now + timedelta(hours=settings.refresh_token_hours)
    await repo.insert_refresh(conn, digest(refresh), staff["id"], device_id, family, refresh_expires)
    return Session(
        access_token=sign(claims, settings.secret_key),
        access_expires_at=access_expires,
        refresh_token=refresh,
        refresh_expires_at=refresh_expires,
        staff=_me(staff, device_id),
    )


def _me(staff: asyncpg.Record, device_id: uuid.UUID | None) -> Me:
    return Me(
        staff_id=staff["id"],
        code=staff["code"],
        name=staff["name"],
        role=staff["role"],
        store_id=staff["store_id"],
        store_code=staff["store_code"],
        counter_id=staff["counter_id"],
        device_id=device_id,
    )


async def refresh(conn: asyncpg.Connection, settings: Settings, token: str) -> Session:
    """Trade a refresh token for a new session; the old token is spent."""
    outcome: Session | AppError
    async with conn.transaction():
        outcome = await _rotate(conn, settings, digest(token))
    if isinstance(outcome, AppError):
        raise outcome
    return outcome


async def _rotate(conn: asyncpg.Connection, settings: Settings, token_hash: bytes) -> Session | AppError:
    row = await repo.refresh_for_update(conn, token_hash)
    if row is None or row["revoked_at"] is not None:
        return Unauthenticated("This session has ended; sign in again.")
    if row["used_at"] is not None:
        # A spent token shown again was copied: end every session descended from the same sign-in.
        await repo.revoke_family(conn, row["family"])
        staff = await repo.staff_by_id(conn, row["staff_id"])
        await record(
            conn,
            store_id=staff["store_id"] if staff else None,
            staff_id=row["staff_id"],
            device_id=row["device_id"],
            action="session.refresh_reused",
            object_type="staff",
            object_id=row["staff_id"],
            details={"family": str(row["family"])},
        )
        return Unauthenticated(
            "This refresh token was already used, so the session has been ended for safety; sign in again.",
            IdentityCodes.REFRESH_REUSED,
        )
    if row["expires_at"] <= row["now"]:
        return Unauthenticated("Your session has expired; sign in again.", Codes.TOKEN_EXPIRED)
    await repo.use_refresh(conn, token_hash)
    staff = await repo.staff_by_id(conn, row["staff_id"])
    if staff is None or not staff["active"]:
        await repo.revoke_family(conn, row["family"])
        return Unauthenticated("This staff account is no longer active; ask a manager.")
    if row["device_id"] is not None and await repo.device_state(conn, row["device_id"]) != "active":
        await repo.revoke_family(conn, row["family"])
        return Unauthenticated("This device has been revoked; ask a manager to enroll it again.", Codes.DEVICE_REVOKED)
    return await _open_session(conn, settings, staff, row["device_id"], row["family"], staff["now"])


async def sign_out(conn: asyncpg.Connection, token: str) -> None:
    """End the session the refresh token belongs to. Unknown tokens are ignored (idempotent)."""
    async with conn.transaction():
        row = await repo.refresh_for_update(conn, digest(token))
        if row is not None:
            await repo.revoke_family(conn, row["family"])


async def me(conn: asyncpg.Connection, caller: Caller) -> Me:
    staff = await repo.staff_by_id(conn, caller.staff_id)
    if staff is None:
        raise NotFound("staff member", caller.staff_id)
    return _me(staff, caller.device_id)
