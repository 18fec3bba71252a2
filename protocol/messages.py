"""Tagged messages and the handshake.

Schema evolution rules (msgspec docs, "schema evolution"): new fields always get defaults, a field
never changes type, unknown fields are ignored on decode so an old offline client keeps working, and
the protocol version is negotiated in ``Hello``/``Welcome``.
"""

from __future__ import annotations

import uuid

import msgspec

from protocol.errors import ErrorBody


class Message(msgspec.Struct, tag_field="type", kw_only=True):
    """Base of every websocket frame; the ``type`` field carries the tag."""


class Hello(Message, tag="hello"):
    """First frame from a device: who it is, what it speaks, where it left off."""

    protocol_version: int
    device_token: str
    last_position: int = 0
    app_version: str = ""


class Welcome(Message, tag="welcome"):
    """Server's answer to ``Hello``."""

    protocol_version: int
    device_id: uuid.UUID
    store_id: uuid.UUID
    position: int
    server_time_ms: int


class Error(Message, tag="error"):
    """An error frame; the connection stays open unless the error says otherwise."""

    error: ErrorBody
    in_reply_to: str | None = None


class Ping(Message, tag="ping"):
    nonce: int = 0


class Pong(Message, tag="pong"):
    nonce: int = 0
