"""The error body every endpoint and websocket frame uses, and the stable codes."""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorBody(msgspec.Struct, kw_only=True):
    """What a client gets when something is refused.

    ``code`` is stable (clients branch on it), ``message`` is a sentence a person can act on,
    ``details`` names the offending field or object where there is one.
    """

    code: str
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class Codes:
    """Stable error codes. Never rename one; add new ones."""

    BAD_REQUEST = "bad_request"
    VALIDATION = "validation_failed"
    MALFORMED = "malformed_message"
    UNKNOWN_MESSAGE = "unknown_message_type"
    UNSUPPORTED_VERSION = "unsupported_protocol_version"
    UNAUTHENTICATED = "unauthenticated"
    TOKEN_EXPIRED = "token_expired"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED_OUT = "locked_out"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    DEVICE_REVOKED = "device_revoked"
    ENROLLMENT_CODE_INVALID = "enrollment_code_invalid"
    ENROLLMENT_CODE_EXPIRED = "enrollment_code_expired"
    ENROLLMENT_CODE_USED = "enrollment_code_used"
    INTERNAL = "internal_error"
    DATABASE_UNAVAILABLE = "database_unavailable"
