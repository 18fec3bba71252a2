"""Staff sign-in, sessions, staff administration and device enrollment: the wire contract.

Secrets (PINs, passwords, refresh tokens, device tokens, enrollment codes) travel only in request
bodies and one-time answers; the server stores hashes of them, never the secrets.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

Role = Literal["sales", "cashier", "supervisor", "manager", "admin"]
DeviceKind = Literal["handheld", "till"]
DeviceState = Literal["pending", "active", "revoked"]

StaffCode = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Pin = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4,8}$", description="4 to 8 digits")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
PublicKey = Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="Ed25519 public key, base64")]


class IdentityCodes:
    """Stable error codes of identity, beyond ``protocol.errors.Codes``. Never rename one."""

    REFRESH_REUSED = "refresh_token_reused"
    DEVICE_NOT_PENDING = "device_not_pending"
    DEVICE_STORE_MISMATCH = "device_store_mismatch"
    STAFF_CODE_TAKEN = "staff_code_taken"
    BAD_PUBLIC_KEY = "bad_public_key"


# --- sign-in and sessions ---------------------------------------------------------------------------


class SignIn(msgspec.Struct, kw_only=True):
    """Staff code plus a PIN (floor and till roles, or anyone on an enrolled device) or a password
    (managers and admins). Send the device token in the ``X-Device-Token`` header to bind the
    session to the device."""

    staff_code: StaffCode
    pin: Pin | None = None
    password: Password | None = None


class RefreshRequest(msgspec.Struct, kw_only=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SignOut(msgspec.Struct, kw_only=True):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Me(msgspec.Struct, kw_only=True):
    """The signed-in staff member and where they are working."""

    staff_id: uuid.UUID
    code: str
    name: str
    role: Role
    store_id: uuid.UUID
    store_code: str
    counter_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None


class Session(msgspec.Struct, kw_only=True):
    """A short-lived access token (``Authorization: Bearer``) and a single-use refresh token."""

    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    staff: Me


# --- staff administration -----------------------------------------------------------------------------


class StaffView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    store_id: uuid.UUID
    code: str
    name: str
    role: Role
    counter_id: uuid.UUID | None
    active: bool
    has_pin: bool
    has_password: bool
    locked_until: datetime | None
    created_at: datetime


class StaffCreate(msgspec.Struct, kw_only=True):
    """A new staff member of the caller's store. Floor and till roles need a PIN, managers and
    admins a password (a PIN as well lets them sign in on a handheld or till)."""

    code: StaffCode
    name: Name
    role: Role
    counter_id: uuid.UUID | None = None
    pin: Pin | None = None
    password: Password | None = None


class StaffUpdate(msgspec.Struct, kw_only=True):
    """Only the fields sent are changed."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    role: Role | msgspec.UnsetType = msgspec.UNSET
    counter_id: uuid.UUID | msgspec.UnsetType | None = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class StaffCredentials(msgspec.Struct, kw_only=True):
    """New PIN and/or password; setting either also lifts a sign-in lockout."""

    pin: Pin | None = None
    password: Password | None = None


# --- devices ------------------------------------------------------------------------------------------


class DeviceView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    store_id: uuid.UUID
    kind: DeviceKind
    label: str
    counter_id: uuid.UUID | None
    state: DeviceState
    public_key: str | None
    last_seen_at: datetime | None
    enrolled_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class DeviceCreate(msgspec.Struct, kw_only=True):
    kind: DeviceKind
    label: Label
    counter_id: uuid.UUID | None = None


class EnrollmentCode(msgspec.Struct, kw_only=True):
    """Shown once: the server keeps only its hash."""

    device_id: uuid.UUID
    code: str
    expires_at: datetime


class DeviceCreated(msgspec.Struct, kw_only=True):
    device: DeviceView
    enrollment: EnrollmentCode


class EnrollRequest(msgspec.Struct, kw_only=True):
    """What a device sends once: the manager's one-time code and its own Ed25519 public key."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    public_key: PublicKey


class Enrolled(msgspec.Struct, kw_only=True):
    """The device's identity. ``device_token`` is shown once; send it as ``Authorization: Device <token>``."""

    device_id: uuid.UUID
    store_id: uuid.UUID
    store_code: str
    counter_id: uuid.UUID | None
    kind: DeviceKind
    label: str
    device_token: str
    # For human ticket numbers (store-counter-device-sequence, e.g. SH01-C-APL-H1-000042); empty from
    # older servers, which the device then replaces with the last hex digits of the ids.
    counter_code: str = ""
    device_code: str = ""


class DeviceKey(msgspec.Struct, kw_only=True):
    """A device's public key, for checking what it signed (ticket and receipt QR codes)."""

    device_id: uuid.UUID
    kind: DeviceKind
    label: str
    counter_id: uuid.UUID | None
    state: DeviceState
    public_key: str | None


class DeviceDirectory(msgspec.Struct, kw_only=True):
    """Every active device of the caller's store with its public key."""

    store_id: uuid.UUID
    devices: list[DeviceKey]
