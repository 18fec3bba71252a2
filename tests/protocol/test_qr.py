"""The signed ticket QR: drawn with qrcode, read back with a real decoder (zxing-cpp), verified."""

from __future__ import annotations

import uuid

import msgspec
import nacl.signing
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from client_common.ticket_qr import ERROR_CORRECTION, make_qr, module_pixels, render
from protocol.ids import new_id
from protocol.qr import PREFIX, QrCodes, QrRefused, encode_body, sign_ticket, verify_ticket
from protocol.tickets import IssueTicket, TicketDraft, TicketLine

DEVICE = new_id()
KEY = nacl.signing.SigningKey.generate()
SEED = bytes(KEY)
PUBLIC = bytes(KEY.verify_key)
CATALOG: dict[uuid.UUID, tuple[str, str]] = {}


def keys(device_id: uuid.UUID) -> bytes | None:
    return PUBLIC if device_id == DEVICE else None


def names(product_id: uuid.UUID) -> tuple[str, str] | None:
    return CATALOG.get(product_id)


def ticket(lines: int = 20, *, member: bool = True) -> IssueTicket:
    made = []
    for i in range(1, lines + 1):
        product = new_id()
        sku, name = f"SNY-XM{i:02d}", f"索尼降噪耳机 WH-1000XM5 第{i}款"
        CATALOG[product] = (sku, name)
        promo = i % 3 == 0
        list_price = 249900 + i * 1000
        unit = list_price - 30000 if promo else list_price
        qty = 1 + i % 4
        discount = 500 if i % 5 == 0 else 0
        made.append(
            TicketLine(
                line_no=i,
                product_id=product,
                sku=sku,
                name=name,
                qty=qty,
                list_price=list_price,
                unit_price=unit,
                promo=promo,
                line_discount=discount,
                line_total=qty * unit - discount,
            )
        )
    ticket_id = new_id()
    draft = TicketDraft(
        id=ticket_id,
        store_id=new_id(),
        counter_id=new_id(),
        number="SH01-C-SNY-H3-000042",
        lines=made,
        total=sum(line.line_total for line in made),
        member_id=new_id() if member else None,
        staff_id=new_id(),
        issued_at_ms=1_760_000_000_123,
    )
    return IssueTicket(command_id=ticket_id, device_seq=4242, made_at_ms=1_760_000_000_125, ticket=draft)


def scan(image: Image.Image) -> str:
    (found,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return str(found.text)


def test_a_twenty_line_ticket_fits_a_comfortable_qr_and_reads_back_verified() -> None:
    command = ticket(20)
    text = sign_ticket(command, DEVICE, SEED)
    assert text.startswith(PREFIX)
    qr = make_qr(text)
    # The figures docs/ticket-qr.md promises: level M, version <= 22, whole-pixel modules on a 720 px screen.
    assert qr.error_correction == ERROR_CORRECTION
    assert qr.version <= 20
    assert module_pixels(qr, 720) >= 6
    image = render(text, available_px=720)
    assert image.size[0] <= 720
    scanned = verify_ticket(scan(image), keys, names)
    assert scanned.device_id == DEVICE
    assert scanned.command == command  # names and SKUs came back from the catalog


def test_a_slightly_blurred_small_image_still_reads() -> None:
    text = sign_ticket(ticket(20), DEVICE, SEED)
    image = render(text, box_size=3).filter(ImageFilter.GaussianBlur(0.8))
    assert verify_ticket(scan(image), keys).command.ticket.total == ticket_total(text)


def ticket_total(text: str) -> int:
    return verify_ticket(text, keys).command.ticket.total


def test_without_a_catalog_lines_come_back_without_names_but_everything_signed_is_exact() -> None:
    command = ticket(3, member=False)
    scanned = verify_ticket(sign_ticket(command, DEVICE, SEED), keys)
    line = scanned.command.ticket.lines[0]
    assert (line.sku, line.name) == ("", "")
    assert encode_body(scanned.command, DEVICE) == encode_body(command, DEVICE)
    assert scanned.command.ticket.member_id is None


def test_an_unusual_command_keeps_every_field() -> None:
    base = ticket(2)
    odd_line = msgspec.structs.replace(base.ticket.lines[1], line_no=7, line_total=1)  # totals that do not add up
    draft = msgspec.structs.replace(
        base.ticket,
        lines=[base.ticket.lines[0], odd_line],
        total=5,
        currency="HKD",
        override_approved_by=new_id(),
        issued_at_ms=base.made_at_ms - 9000,
    )
    command = IssueTicket(command_id=new_id(), device_seq=1, made_at_ms=base.made_at_ms, ticket=draft)
    scanned = verify_ticket(sign_ticket(command, DEVICE, SEED), keys, names)
    assert scanned.command == command  # the server, not the QR, refuses a ticket that does not add up


@pytest.mark.parametrize("position", [5, 40, 200, -3])
def test_a_changed_digit_is_refused(position: int) -> None:
    text = sign_ticket(ticket(5), DEVICE, SEED)
    digit = text[position]
    tampered = text[:position] + str((int(digit) + 1) % 10) + text[position + 1 :]
    with pytest.raises(QrRefused) as refused:
        verify_ticket(tampered, keys, names)
    assert refused.value.code in (QrCodes.BAD_SIGNATURE, QrCodes.MALFORMED, QrCodes.UNKNOWN_DEVICE)


def test_a_re_signed_copy_with_a_changed_price_is_refused() -> None:
    command = ticket(2)
    cheaper_line = msgspec.structs.replace(command.ticket.lines[0], unit_price=1, line_total=1)
    forged = msgspec.structs.replace(
        command, ticket=msgspec.structs.replace(command.ticket, lines=[cheaper_line, command.ticket.lines[1]])
    )
    other_key = bytes(nacl.signing.SigningKey.generate())
    with pytest.raises(QrRefused) as refused:
        verify_ticket(sign_ticket(forged, DEVICE, other_key), keys)
    assert refused.value.code == QrCodes.BAD_SIGNATURE
    assert "altered" in refused.value.body.message


def test_an_unknown_device_is_refused_naming_it() -> None:
    stranger = new_id()
    text = sign_ticket(ticket(1), stranger, SEED)
    with pytest.raises(QrRefused) as refused:
        verify_ticket(text, keys)
    assert refused.value.code == QrCodes.UNKNOWN_DEVICE
    assert refused.value.body.details["device_id"] == str(stranger)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("https://example.com/", QrCodes.NOT_A_TICKET),
        ("6901234500011", QrCodes.NOT_A_TICKET),
        ("FT2:1234", QrCodes.UNSUPPORTED_VERSION),
        ("FT1:", QrCodes.MALFORMED),
        ("FT1:12ab", QrCodes.MALFORMED),
        ("FT1:" + "9" * 29 * 4, QrCodes.MALFORMED),
        ("FT1:" + "1" * 8000, QrCodes.MALFORMED),
    ],
)
def test_garbage_is_refused_with_a_clear_code(text: str, code: str) -> None:
    with pytest.raises(QrRefused) as refused:
        verify_ticket(text, keys)
    assert refused.value.code == code
    assert refused.value.body.message.endswith(".")


def test_a_body_that_disagrees_with_its_prefix_is_refused() -> None:
    from protocol import qr

    raw = qr._from_digits(sign_ticket(ticket(1), DEVICE, SEED)[len(PREFIX) :])
    text = PREFIX + qr._to_digits(bytes([2]) + raw[1:])
    with pytest.raises(QrRefused) as refused:
        verify_ticket(text, keys)
    assert refused.value.code == QrCodes.MALFORMED


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_digit_packing_round_trips(data: bytes) -> None:
    from protocol import qr

    digits = qr._to_digits(data)
    assert digits.isdigit()
    assert qr._from_digits(digits) == data
