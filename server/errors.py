"""One error type for every refusal, rendered as ``protocol.errors.ErrorBody``."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)

from protocol.codec import encode
from protocol.errors import Codes, ErrorBody

log = logging.getLogger(__name__)

_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


class AppError(Exception):
    """A refusal a person can act on: stable code, sentence, HTTP status, details."""

    status = 400

    def __init__(
        self, code: str, message: str, *, status: int | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status
        self.details = details or {}

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, details=self.details)


class NotFound(AppError):
    status = 404

    def __init__(self, what: str, ident: Any = None) -> None:
        details = {"object": what} | ({"id": str(ident)} if ident is not None else {})
        super().__init__(Codes.NOT_FOUND, f"No {what} with that id in your store.", details=details)


class Forbidden(AppError):
    status = 403

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(Codes.FORBIDDEN, message, details=details)


class Unauthenticated(AppError):
    status = 401

    def __init__(self, message: str = "Sign in first.", code: str = Codes.UNAUTHENTICATED) -> None:
        super().__init__(code, message)


class Conflict(AppError):
    status = 409

    def __init__(self, message: str, code: str = Codes.CONFLICT, **details: Any) -> None:
        super().__init__(code, message, details=details)


def _respond(body: ErrorBody, status: int) -> Response[bytes]:
    return Response(content=encode(body), status_code=status, media_type=MediaType.JSON)


def app_error_handler(_: Request[Any, Any, Any], exc: AppError) -> Response[bytes]:
    return _respond(exc.body(), exc.status)


def validation_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    fields = [str(item.get("key", "")) for item in extra if isinstance(item, dict) and item.get("key")]
    detail = str(exc.detail)
    if extra and isinstance(extra[0], dict) and extra[0].get("message"):
        detail = str(extra[0]["message"])
    field = fields[0] if fields else None
    missing = _MISSING_FIELD.search(detail)
    if missing:  # msgspec names the missing field only in its message; Litestar reports the body ("data")
        field = missing.group(1)
    message = f"The request was refused: {detail}" + (f" (field {field!r})." if field else ".")
    details: dict[str, Any] = {"field": field} if field else {}
    return _respond(ErrorBody(code=Codes.VALIDATION, message=message, details=details), 400)


def http_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        body = ErrorBody(code=Codes.NOT_FOUND, message="There is nothing at this address.")
    elif isinstance(exc, NotAuthorizedException):
        body = ErrorBody(code=Codes.UNAUTHENTICATED, message=str(exc.detail) or "Sign in first.")
    elif isinstance(exc, PermissionDeniedException):
        body = ErrorBody(code=Codes.FORBIDDEN, message=str(exc.detail) or "Your role may not do this.")
    elif status == 405:
        body = ErrorBody(code=Codes.BAD_REQUEST, message="This address does not take that method.")
    else:
        body = ErrorBody(code=Codes.BAD_REQUEST if status < 500 else Codes.INTERNAL, message=str(exc.detail))
    return _respond(body, status)


def database_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.warning("database unavailable: %s", exc)
    return _respond(
        ErrorBody(code=Codes.DATABASE_UNAVAILABLE, message="The database cannot be reached; try again shortly."),
        503,
    )


def data_handler(_: Request[Any, Any, Any], exc: asyncpg.exceptions.DataError) -> Response[bytes]:
    """A value the request carried that the database cannot store (a NUL character, text too long for
    its column, a number out of range): the caller's mistake, refused like any other invalid field."""
    message = f"The request was refused: a value cannot be stored ({exc.args[0] if exc.args else exc})."
    return _respond(ErrorBody(code=Codes.VALIDATION, message=message, details={}), 400)


def interface_handler(request: Request[Any, Any, Any], exc: asyncpg.InterfaceError) -> Response[bytes]:
    """The connection closed under an operation (the database restarted mid-request): unavailable.
    Any other misuse of a connection is a bug and answers as one."""
    if "connection is closed" in str(exc):
        return database_handler(request, exc)
    return internal_handler(request, exc)


def internal_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error", exc_info=exc)
    return _respond(ErrorBody(code=Codes.INTERNAL, message="Something went wrong on the server; it was logged."), 500)


exception_handlers: Any = {
    AppError: app_error_handler,
    ValidationException: validation_handler,
    HTTPException: http_handler,
    OSError: database_handler,
    # The database went away under us: refused, shut down, restarting, or the connection broke mid-query
    # (asyncpg then reports an internal state error when the pool resets the connection).
    asyncpg.exceptions.ConnectionDoesNotExistError: database_handler,
    asyncpg.exceptions.CannotConnectNowError: database_handler,
    asyncpg.exceptions.AdminShutdownError: database_handler,
    asyncpg.exceptions.CrashShutdownError: database_handler,
    asyncpg.exceptions.PostgresConnectionError: database_handler,
    asyncpg.exceptions.InternalClientError: database_handler,
    asyncpg.exceptions.DataError: data_handler,
    asyncpg.InterfaceError: interface_handler,
    Exception: internal_handler,
}
