"""Encoders and decoders, built once.

``Frames`` decodes any registered message union and turns every failure into an ``ErrorBody`` a
person can act on, so a malformed or unknown frame never crashes a reader.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from protocol.errors import Codes, ErrorBody

T = TypeVar("T")

json_encoder = msgspec.json.Encoder()


def encode(obj: Any) -> bytes:
    """Encode any Struct (or plain value) as JSON bytes."""
    return json_encoder.encode(obj)


class DecodeFailure(Exception):
    """A frame that cannot be decoded; ``body`` says why."""

    def __init__(self, body: ErrorBody) -> None:
        super().__init__(body.message)
        self.body = body


class Frames(Generic[T]):
    """A decoder for one message union, built once and reused."""

    def __init__(self, union: Any) -> None:
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(union)
        self._tags = sorted(_tags_of(union))

    def decode(self, data: bytes | str) -> T:
        """Decode one frame or raise ``DecodeFailure`` with a stable code."""
        try:
            return self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            raise DecodeFailure(self._explain(data, exc)) from None
        except msgspec.DecodeError as exc:
            raise DecodeFailure(
                ErrorBody(code=Codes.MALFORMED, message=f"The message is not valid JSON: {exc}.")
            ) from None

    def _explain(self, data: bytes | str, exc: msgspec.ValidationError) -> ErrorBody:
        text = str(exc)
        try:
            raw = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raw = None
        if isinstance(raw, dict) and "type" in raw and raw["type"] not in self._tags:
            return ErrorBody(
                code=Codes.UNKNOWN_MESSAGE,
                message=f"Unknown message type {raw['type']!r}; this side understands {', '.join(self._tags)}.",
                details={"type": raw["type"], "known": self._tags},
            )
        field = text.rsplit("at `", 1)[1].rstrip("`") if "at `" in text else None
        details = {"field": field.removeprefix("$.")} if field else {}
        return ErrorBody(code=Codes.VALIDATION, message=f"The message was refused: {text}.", details=details)


def _tags_of(union: Any) -> set[str]:
    args = getattr(union, "__args__", (union,))
    tags: set[str] = set()
    for arg in args:
        info = msgspec.inspect.type_info(arg)
        if isinstance(info, msgspec.inspect.StructType) and info.tag is not None:
            tags.add(str(info.tag))
    return tags
