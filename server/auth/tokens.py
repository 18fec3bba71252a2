"""Short-lived signed access tokens (HMAC-SHA256 over msgspec-encoded claims).

Access tokens are stateless and live minutes; refresh tokens are random, stored hashed and single-use
(see ``server.auth.service``). Device tokens are random and stored hashed on the device row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid

import msgspec

from protocol.errors import Codes
from server.errors import Unauthenticated

ROLES = ("sales", "cashier", "supervisor", "manager", "admin")


class Claims(msgspec.Struct, frozen=True):
    sub: uuid.UUID  # staff id
    store: uuid.UUID
    role: str
    exp: int
    dev: uuid.UUID | None = None


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Claims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: Claims, secret: str) -> str:
    payload = _enc.encode(claims)
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(token: str, secret: str, now: float | None = None) -> Claims:
    """Return the claims of a valid, unexpired token, or raise ``Unauthenticated``."""
    try:
        payload_text, mac_text = token.split(".", 1)
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, TypeError):
        raise Unauthenticated("The sign-in token is malformed; sign in again.") from None
    good = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(good, mac):
        raise Unauthenticated("The sign-in token is not valid; sign in again.")
    try:
        claims = _dec.decode(payload)
    except msgspec.DecodeError:
        raise Unauthenticated("The sign-in token is malformed; sign in again.") from None
    if claims.exp < (now if now is not None else time.time()):
        raise Unauthenticated("Your sign-in has expired; refresh it or sign in again.", Codes.TOKEN_EXPIRED)
    return claims


def random_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    """What we store instead of a bearer secret (device tokens, refresh tokens, enrollment codes)."""
    return hashlib.sha256(secret.encode()).digest()
