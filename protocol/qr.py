"""The signed ticket QR: a compact, versioned binary copy of an ``IssueTicket``, signed by the device.

Text form: ``FT1:`` followed by decimal digits. The prefix is QR alphanumeric; the digits use QR
numeric mode (10 bits per 3 digits, about 8.1 bits per payload byte, less than base45's 8.25 or
base32's 8.8 in alphanumeric mode) and survive keyboard-wedge scanners under any keyboard layout.
docs/ticket-qr.md describes the layout byte by byte.

Product names and SKUs are not carried (they would double the size of a 20-line ticket); a reader
fills them from its catalog through ``names``. Everything else of the command is carried and signed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import nacl.exceptions
import nacl.signing

from protocol.errors import ErrorBody
from protocol.tickets import IssueTicket, TicketDraft, TicketLine

PREFIX = "FT1:"
FORMAT_VERSION = 1
SIGNATURE_CONTEXT = b"floorticket ticket qr v1\x00"
"""Signed before the body, so a ticket signature can never pass for another signed document."""

SIGNATURE_SIZE = 64
MAX_TEXT = 7089  # the numeric capacity of the largest QR code; anything longer was never ours

_CHUNK_BYTES = 12
_CHUNK_DIGITS = 29  # digits for 12 bytes: 256**12 < 10**29


def _digits_for(nbytes: int) -> int:
    return math.ceil(nbytes * 8 * math.log10(2))


_BYTES_FOR_DIGITS = {_digits_for(k): k for k in range(1, _CHUNK_BYTES)}


class QrCodes:
    """Stable codes of a refused ticket QR."""

    NOT_A_TICKET = "qr_not_a_ticket"
    UNSUPPORTED_VERSION = "qr_unsupported_version"
    MALFORMED = "qr_malformed"
    UNKNOWN_DEVICE = "qr_unknown_device"
    BAD_SIGNATURE = "qr_bad_signature"


class QrRefused(Exception):
    """A scanned code that must not be trusted; ``body`` says why in words a cashier can act on."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.body = ErrorBody(code=code, message=message, details=details)

    @property
    def code(self) -> str:
        return self.body.code


class ScannedTicket(msgspec.Struct, frozen=True, kw_only=True):
    """A verified ticket QR: the issuing device and the exact ``IssueTicket`` it signed."""

    device_id: uuid.UUID
    command: IssueTicket


PublicKeys = Callable[[uuid.UUID], bytes | None]
"""Device id -> its enrolled Ed25519 public key (32 bytes), or None when the device is unknown."""

Names = Callable[[uuid.UUID], tuple[str, str] | None]
"""Product id -> (sku, name) from the reader's catalog, or None."""


# --- encoding -----------------------------------------------------------------------------------------

_F_MEMBER, _F_STAFF, _F_OVERRIDE, _F_COMMAND_ID, _F_CURRENCY, _F_TOTAL = 1, 2, 4, 8, 16, 32
_L_PROMO, _L_UNIT, _L_DISCOUNT, _L_TOTAL, _L_NUMBER = 1, 2, 4, 8, 16


def encode_body(command: IssueTicket, device_id: uuid.UUID) -> bytes:
    """The canonical signed bytes of an ``IssueTicket`` (everything but product names and SKUs).

    Two commands with equal bodies say the same thing; a receiver can compare them this way.
    """
    t = command.ticket
    flags = 0
    optional: list[uuid.UUID] = []
    if t.member_id is not None:
        flags |= _F_MEMBER
        optional.append(t.member_id)
    if t.staff_id is not None:
        flags |= _F_STAFF
        optional.append(t.staff_id)
    if t.override_approved_by is not None:
        flags |= _F_OVERRIDE
        optional.append(t.override_approved_by)
    if command.command_id != t.id:
        flags |= _F_COMMAND_ID
    if t.currency != "CNY":
        flags |= _F_CURRENCY
    if t.total != sum(line.line_total for line in t.lines):
        flags |= _F_TOTAL
    out = bytearray([FORMAT_VERSION, flags])
    out += t.id.bytes
    if flags & _F_COMMAND_ID:
        out += command.command_id.bytes
    for value in (device_id, t.store_id, t.counter_id, *optional):
        out += value.bytes
    _varint(out, command.device_seq)
    _varint(out, command.made_at_ms)
    _varint(out, _zigzag(t.issued_at_ms - command.made_at_ms))
    _text(out, t.number)
    if flags & _F_CURRENCY:
        _text(out, t.currency)
    if flags & _F_TOTAL:
        _varint(out, t.total)
    _varint(out, len(t.lines))
    for index, line in enumerate(t.lines, start=1):
        lflags = _L_PROMO if line.promo else 0
        lflags |= _L_UNIT if line.unit_price != line.list_price else 0
        lflags |= _L_DISCOUNT if line.line_discount else 0
        lflags |= _L_TOTAL if line.line_total != line.expected_total() else 0
        lflags |= _L_NUMBER if line.line_no != index else 0
        out.append(lflags)
        if lflags & _L_NUMBER:
            _varint(out, line.line_no)
        out += line.product_id.bytes
        _varint(out, line.qty)
        _varint(out, line.list_price)
        if lflags & _L_UNIT:
            _varint(out, line.unit_price)
        if lflags & _L_DISCOUNT:
            _varint(out, line.line_discount)
        if lflags & _L_TOTAL:
            _varint(out, line.line_total)
    return bytes(out)


def sign_ticket(command: IssueTicket, device_id: uuid.UUID, signing_key: bytes) -> str:
    """The QR text for an issued ticket, signed with the device's 32-byte Ed25519 seed."""
    body = encode_body(command, device_id)
    signature = nacl.signing.SigningKey(signing_key).sign(SIGNATURE_CONTEXT + body).signature
    return PREFIX + _to_digits(body + signature)


def verify_ticket(text: str, public_keys: PublicKeys, names: Names | None = None) -> ScannedTicket:
    """Check a scanned ticket QR and return the command it carries, or raise ``QrRefused``.

    Refuses anything that is not a ticket QR, a newer format, a broken payload, a device ``public_keys``
    does not know, and any change to a signed byte.
    """
    text = text.strip()
    if not text.startswith(PREFIX[:2]):
        raise QrRefused(QrCodes.NOT_A_TICKET, "This code is not a floor ticket; scan the QR on the ticket screen.")
    if not text.startswith(PREFIX):
        version = text[2 : text.find(":")] if ":" in text else "?"
        raise QrRefused(
            QrCodes.UNSUPPORTED_VERSION,
            "This ticket was made by a newer app; update this station and scan again.",
            version=version,
        )
    if len(text) > MAX_TEXT:
        raise QrRefused(QrCodes.MALFORMED, "This ticket code is too long to be genuine; ask for the ticket again.")
    try:
        raw = _from_digits(text[len(PREFIX) :])
        if len(raw) < SIGNATURE_SIZE + 2:
            raise ValueError("too short")
        body, signature = raw[:-SIGNATURE_SIZE], raw[-SIGNATURE_SIZE:]
        if body[0] != FORMAT_VERSION:  # the prefix names the format; a body that disagrees was damaged
            raise ValueError("format byte")
        reader = _Reader(body)
        device_id = reader.peek_device_id()
    except (ValueError, IndexError):
        raise QrRefused(QrCodes.MALFORMED, "The ticket code is damaged; scan it again or ask for the ticket.") from None
    public_key = public_keys(device_id)
    if public_key is None:
        raise QrRefused(
            QrCodes.UNKNOWN_DEVICE,
            "This ticket was issued by a device this station does not know; check it online or ask a supervisor.",
            device_id=str(device_id),
        )
    try:
        nacl.signing.VerifyKey(public_key).verify(SIGNATURE_CONTEXT + body, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        raise QrRefused(
            QrCodes.BAD_SIGNATURE,
            "The ticket's signature does not match; it was altered or is not genuine. Do not accept it.",
            device_id=str(device_id),
        ) from None
    try:
        command = reader.command(names)
    except (ValueError, IndexError, msgspec.ValidationError):
        raise QrRefused(QrCodes.MALFORMED, "The ticket code is damaged; scan it again or ask for the ticket.") from None
    return ScannedTicket(device_id=device_id, command=command)


def read_unverified(text: str) -> ScannedTicket | None:
    """What a ticket QR claims (issuing device and command) WITHOUT checking its signature, or None when
    it cannot be read. Only for planning work before the checked read (``verify_ticket``), e.g. which
    rows a server must lock; never trust it."""
    text = text.strip()
    if not text.startswith(PREFIX) or len(text) > MAX_TEXT:
        return None
    try:
        raw = _from_digits(text[len(PREFIX) :])
        body = raw[:-SIGNATURE_SIZE]
        if len(raw) < SIGNATURE_SIZE + 2 or body[0] != FORMAT_VERSION:
            return None
        reader = _Reader(body)
        return ScannedTicket(device_id=reader.peek_device_id(), command=reader.command(None))
    except (ValueError, IndexError, msgspec.ValidationError):
        return None


# --- decoding -----------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 2
        self.flags = data[1]
        self.ticket_id = self._uuid()
        self.command_id = self._uuid() if self.flags & _F_COMMAND_ID else self.ticket_id
        self.device_id = self._uuid()

    def peek_device_id(self) -> uuid.UUID:
        return self.device_id

    def command(self, names: Names | None) -> IssueTicket:
        flags = self.flags
        store_id, counter_id = self._uuid(), self._uuid()
        member_id = self._uuid() if flags & _F_MEMBER else None
        staff_id = self._uuid() if flags & _F_STAFF else None
        override = self._uuid() if flags & _F_OVERRIDE else None
        device_seq = self._varint()
        made_at_ms = self._varint()
        issued_at_ms = made_at_ms + _unzigzag(self._varint())
        number = self._text()
        currency = self._text() if flags & _F_CURRENCY else "CNY"
        total = self._varint() if flags & _F_TOTAL else None
        lines = [self._line(index, names) for index in range(1, self._varint() + 1)]
        if self.at != len(self.data):
            raise ValueError("trailing bytes")
        draft = TicketDraft(
            id=self.ticket_id,
            store_id=store_id,
            counter_id=counter_id,
            number=number,
            lines=lines,
            total=total if total is not None else sum(line.line_total for line in lines),
            currency=currency,
            member_id=member_id,
            staff_id=staff_id,
            issued_at_ms=issued_at_ms,
            override_approved_by=override,
        )
        command = IssueTicket(command_id=self.command_id, device_seq=device_seq, made_at_ms=made_at_ms, ticket=draft)
        # Round-trip through the validating decoder: the signed bytes must still obey the contract.
        return msgspec.json.decode(msgspec.json.encode(command), type=IssueTicket)

    def _line(self, index: int, names: Names | None) -> TicketLine:
        lflags = self._byte()
        line_no = self._varint() if lflags & _L_NUMBER else index
        product_id = self._uuid()
        qty = self._varint()
        list_price = self._varint()
        unit_price = self._varint() if lflags & _L_UNIT else list_price
        discount = self._varint() if lflags & _L_DISCOUNT else 0
        line_total = self._varint() if lflags & _L_TOTAL else qty * unit_price - discount
        sku, name = (names(product_id) if names else None) or ("", "")
        return TicketLine(
            line_no=line_no,
            product_id=product_id,
            sku=sku,
            name=name,
            qty=qty,
            list_price=list_price,
            unit_price=unit_price,
            promo=bool(lflags & _L_PROMO),
            line_discount=discount,
            line_total=line_total,
        )

    def _byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def _uuid(self) -> uuid.UUID:
        chunk = self.data[self.at : self.at + 16]
        if len(chunk) != 16:
            raise ValueError("truncated id")
        self.at += 16
        return uuid.UUID(bytes=chunk)

    def _varint(self) -> int:
        value = shift = 0
        while True:
            byte = self._byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def _text(self) -> str:
        size = self._varint()
        chunk = self.data[self.at : self.at + size]
        if len(chunk) != size:
            raise ValueError("truncated text")
        self.at += size
        return chunk.decode("utf-8")


def _varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("varints are unsigned")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def _unzigzag(value: int) -> int:
    return value // 2 if not value & 1 else -(value + 1) // 2


def _text(out: bytearray, value: str) -> None:
    data = value.encode("utf-8")
    _varint(out, len(data))
    out += data


def _to_digits(data: bytes) -> str:
    """12-byte chunks as 29 fixed-width digits; a shorter last chunk uses the fewest digits that fit."""
    parts = []
    for start in range(0, len(data), _CHUNK_BYTES):
        chunk = data[start : start + _CHUNK_BYTES]
        width = _CHUNK_DIGITS if len(chunk) == _CHUNK_BYTES else _digits_for(len(chunk))
        parts.append(str(int.from_bytes(chunk, "big")).zfill(width))
    return "".join(parts)


def _from_digits(text: str) -> bytes:
    if not text.isascii() or not text.isdigit():
        raise ValueError("not digits")
    full, rest = divmod(len(text), _CHUNK_DIGITS)
    sizes = [(_CHUNK_DIGITS, _CHUNK_BYTES)] * full
    if rest:
        if rest not in _BYTES_FOR_DIGITS:
            raise ValueError("bad length")
        sizes.append((rest, _BYTES_FOR_DIGITS[rest]))
    out = bytearray()
    at = 0
    for width, nbytes in sizes:
        value = int(text[at : at + width])
        at += width
        if value >= 256**nbytes:
            raise ValueError("chunk out of range")
        out += value.to_bytes(nbytes, "big")
    return bytes(out)
