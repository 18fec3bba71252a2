"""Strict request bodies: a wrong JSON type is refused, never coerced.

Litestar converts request bodies leniently (``"100"`` becomes ``100``, ``"yes"`` may become a
bool). Money and ids must not be guessed at, so before a handler runs, its ``data`` body is decoded
strictly with msgspec against the same Struct; a mismatch is a 400 naming the field, before anything
is written. Handlers keep ``data: JSONBody[SomeStruct]`` so the OpenAPI schema shows the body.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request

from protocol.errors import Codes
from server.errors import AppError

T = TypeVar("T")

_decoders: dict[Any, msgspec.json.Decoder[Any] | None] = {}


def _decoder_for(annotation: Any) -> msgspec.json.Decoder[Any] | None:
    if annotation not in _decoders:
        try:
            _decoders[annotation] = msgspec.json.Decoder(annotation)
        except TypeError:  # not a type msgspec can decode: leave it to Litestar
            _decoders[annotation] = None
    return _decoders[annotation]


def field_of(error: msgspec.ValidationError) -> str | None:
    """``list_price`` from msgspec's "... - at `$.list_price`" (``lines[0].qty`` for nested fields)."""
    text = str(error)
    if "at `$" in text:
        return text.rsplit("at `$", 1)[1].rstrip("`").lstrip(".") or None
    if "missing required field `" in text:
        return text.split("missing required field `", 1)[1].split("`", 1)[0]
    return None


async def strict_body(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: refuse a body whose JSON types do not match the handler's Struct."""
    param = request.route_handler.parsed_fn_signature.parameters.get("data")
    if param is None:
        return
    content_type = request.headers.get("content-type", "application/json")
    if "json" not in content_type:
        return
    decoder = _decoder_for(param.annotation)
    if decoder is None:
        return
    body = await request.body()
    if body:
        decode(decoder, body)


def decode(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """``body`` decoded strictly, or the same 400 refusals as the hook (for a handler that takes the raw
    ``body`` to decode a large request once; it names its Struct in ``opt["body"]`` for the document)."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        field = field_of(exc)
        message = str(exc).split(" - at `", 1)[0]
        raise AppError(
            Codes.VALIDATION,
            f"The request was refused: {message}" + (f" (field {field!r})." if field else "."),
            details={"field": field} if field else {},
        ) from None
    except msgspec.DecodeError as exc:
        raise AppError(Codes.BAD_REQUEST, f"The request body is not valid JSON: {exc}.") from None
