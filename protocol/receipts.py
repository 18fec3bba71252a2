"""The signed receipt QR: proof of payment a counter can check without the network.

The till signs the paid receipt with its Ed25519 key; a counter whose handheld is offline scans the
customer's receipt, checks the signature against the till's public key (which it synced earlier)
and releases the goods of its ticket.

Text form: ``FTR<version>:`` followed by base45 (RFC 9285) of ``msgpack(body) || signature``. Base45
uses only the QR alphanumeric alphabet, so the code stays small. The body is a positional msgpack
array with ids as 16 raw bytes; new fields are appended at the end with defaults.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

import msgspec
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

RECEIPT_QR_VERSION = 1
PREFIX = f"FTR{RECEIPT_QR_VERSION}:"
SIGNATURE_BYTES = 64


class ReceiptTicket(msgspec.Struct, array_like=True, frozen=True):
    """A ticket settled by the receipt: its id, human number and the amount paid for it."""

    id: uuid.UUID
    number: str
    total: int


class ReceiptPayload(msgspec.Struct, array_like=True, frozen=True, kw_only=True):
    """What the receipt QR proves. Amounts in fen; ``at`` in Unix seconds."""

    v: int = RECEIPT_QR_VERSION
    receipt_no: str
    store_id: uuid.UUID
    checkout_id: uuid.UUID
    tickets: list[ReceiptTicket]
    total: int
    paid: int
    change: int = 0
    currency: str = "CNY"
    at: int
    signer: uuid.UUID  # the till device whose key signed


class ReceiptInvalid(Exception):
    """The scanned code is not a genuine receipt of ours; ``reason`` is a stable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


_encoder = msgspec.msgpack.Encoder(uuid_format="bytes")
_decoder = msgspec.msgpack.Decoder(ReceiptPayload)

# --- base45 (RFC 9285) -----------------------------------------------------------------------------

_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_INDEX = {c: i for i, c in enumerate(_B45)}


def b45encode(data: bytes) -> str:
    """Base45 text of ``data``."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out += [_B45[c], _B45[d], _B45[e]]
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += [_B45[c], _B45[d]]
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Bytes of base45 ``text``; ``ValueError`` if it is not base45."""
    try:
        values = [_B45_INDEX[c] for c in text]
    except KeyError:
        raise ValueError("not base45") from None
    if len(values) % 3 == 1:
        raise ValueError("bad base45 length")
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise ValueError("bad base45 triple")
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise ValueError("bad base45 pair")
            out.append(n)
    return bytes(out)


# --- sign and verify -------------------------------------------------------------------------------


def sign_receipt(payload: ReceiptPayload, signing_key: bytes | SigningKey) -> str:
    """The QR text for ``payload``, signed with the till's Ed25519 private key (32-byte seed)."""
    key = signing_key if isinstance(signing_key, SigningKey) else SigningKey(signing_key)
    body = _encoder.encode(payload)
    return PREFIX + b45encode(body + key.sign(body).signature)


def peek_receipt(text: str) -> ReceiptPayload:
    """Decode without checking the signature (to learn the signer). Never trust the result."""
    body, _ = _split(text)
    return _decode_body(body)


def verify_receipt(
    text: str, public_key_of: Mapping[uuid.UUID, bytes] | Callable[[uuid.UUID], bytes | None]
) -> ReceiptPayload:
    """Check a scanned receipt QR and return what it proves.

    ``public_key_of`` maps a till's device id to its Ed25519 public key (32 bytes). Raises
    ``ReceiptInvalid`` for anything not signed by a known till: foreign codes, unknown signers,
    altered bytes.
    """
    body, signature = _split(text)
    payload = _decode_body(body)
    key = public_key_of.get(payload.signer) if isinstance(public_key_of, Mapping) else public_key_of(payload.signer)
    if key is None:
        raise ReceiptInvalid("unknown_signer", "This receipt was signed by a till this device does not know.")
    try:
        VerifyKey(key).verify(body, signature)
    except (BadSignatureError, ValueError):
        raise ReceiptInvalid("bad_signature", "This receipt's signature does not match; do not release.") from None
    return payload


def _split(text: str) -> tuple[bytes, bytes]:
    text = text.lstrip().rstrip("\r\n")  # a trailing space can be base45 data
    if not text.startswith("FTR"):
        raise ReceiptInvalid("not_a_receipt", "This code is not a floorticket receipt.")
    if not text.startswith(PREFIX):
        raise ReceiptInvalid("unsupported_version", "This receipt is from a newer version; update the app.")
    try:
        raw = b45decode(text[len(PREFIX) :])
    except ValueError:
        raise ReceiptInvalid("malformed", "This receipt code is damaged; scan it again.") from None
    if len(raw) <= SIGNATURE_BYTES:
        raise ReceiptInvalid("malformed", "This receipt code is damaged; scan it again.")
    return raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]


def _decode_body(body: bytes) -> ReceiptPayload:
    try:
        return _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise ReceiptInvalid("malformed", "This receipt code is damaged; scan it again.") from None
