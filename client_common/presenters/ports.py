"""The small interfaces presenters need from the network, the device keys and the local store.

Presenters depend only on these; ``<app>/wiring.py`` adapts the real client pieces to them, and tests
hand in plain fakes. Failures cross the boundary as ``Refused`` (the server said no, with its stable
code and sentence) or ``Unreachable`` (no answer: Wi-Fi, server down).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol


class Refused(Exception):
    """The server refused; ``code`` is stable, ``message`` is a sentence a person can act on,
    ``details`` what the error body named (e.g. the exception a refused offline checkout became)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}


class Unreachable(Exception):
    """No answer from the server."""


@dataclass(frozen=True)
class EnrolledDevice:
    device_id: uuid.UUID
    store_id: uuid.UUID
    label: str
    counter_id: uuid.UUID | None = None
    store_code: str = ""
    counter_code: str = ""


@dataclass(frozen=True)
class StaffSession:
    staff_id: uuid.UUID
    name: str
    role: str  # sales | cashier | supervisor | manager | admin
    store_id: uuid.UUID


SUPERVISOR_ROLES = ("supervisor", "manager", "admin")


class Enroller(Protocol):
    def enrolled(self) -> EnrolledDevice | None:
        """The identity this device already holds, if any."""
        ...

    async def enroll(self, server_url: str, code: str) -> EnrolledDevice:
        """Make (or reuse) the device key pair, redeem the one-time code, keep the device token."""
        ...


class Authenticator(Protocol):
    async def sign_in(self, staff_code: str, pin: str) -> StaffSession: ...

    async def check_supervisor(self, staff_code: str, pin: str) -> StaffSession:
        """Verify a supervisor's PIN without changing who is signed in."""
        ...
