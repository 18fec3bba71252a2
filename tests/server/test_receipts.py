"""Receipt text, ESC/POS output and the signed receipt QR (rendered and scanned back)."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import msgspec
import pytest
import qrcode
import zxingcpp
from escpos.printer import File
from nacl.signing import SigningKey

from protocol.ids import new_id
from protocol.receipts import (
    PREFIX,
    ReceiptInvalid,
    ReceiptPayload,
    ReceiptTicket,
    b45decode,
    b45encode,
    sign_receipt,
    verify_receipt,
)
from server.demo import DemoInfo
from server.errors import AppError
from server.receipts.layout import (
    COLUMNS_58MM,
    COLUMNS_80MM,
    ReceiptDoc,
    ReceiptLine,
    ReceiptTender,
    ReceiptTicketText,
    display_width,
    render_text,
    two_columns,
    wrap,
)
from server.receipts.printer import print_receipt, receipt_bytes
from server.receipts.verify import verify_receipt_for_store

TILL_KEY = SigningKey(b"\x07" * 32)
TILL_ID = uuid.UUID("01890000-0000-7000-8000-000000000001")


def payload(**changes: object) -> ReceiptPayload:
    base = ReceiptPayload(
        receipt_no="SH01-T1-000123",
        store_id=uuid.UUID("01890000-0000-7000-8000-0000000000aa"),
        checkout_id=uuid.UUID("01890000-0000-7000-8000-0000000000bb"),
        tickets=[
            ReceiptTicket(uuid.UUID("01890000-0000-7000-8000-000000000011"), "SH01-C-APL-H1-000042", 599_900),
            ReceiptTicket(uuid.UUID("01890000-0000-7000-8000-000000000012"), "SH01-C-HUA-H2-000007", 89_900),
            ReceiptTicket(uuid.UUID("01890000-0000-7000-8000-000000000013"), "SH01-C-SNY-H4-000311", 219_900),
        ],
        total=909_700,
        paid=910_000,
        change=300,
        at=1_740_000_000,
        signer=TILL_ID,
    )
    return msgspec.structs.replace(base, **changes)


def doc(qr: str | None = None) -> ReceiptDoc:
    return ReceiptDoc(
        store_name="上海旗舰店 Shanghai flagship",
        receipt_no="SH01-T1-000123",
        at="2025-02-19 14:05",
        cashier="张伟",
        till="Till 1",
        tickets=[
            ReceiptTicketText(
                number="SH01-C-APL-H1-000042",
                counter="苹果专柜",
                lines=[ReceiptLine("iPhone 16 128GB 黑色 超长名称测试一下换行是否正确", 1, 599_900, 599_900)],
                total=599_900,
            ),
            ReceiptTicketText(
                number="SH01-C-HUA-H2-000007",
                counter="华为专柜",
                lines=[ReceiptLine("华为 FreeBuds 5", 1, 89_900, 89_900)],
                total=89_900,
            ),
            ReceiptTicketText(
                number="SH01-C-SNY-H4-000311",
                counter="索尼专柜",
                lines=[ReceiptLine("索尼降噪耳机 WH-1000XM5", 1, 219_900, 219_900)],
                total=219_900,
            ),
        ],
        total=909_700,
        tenders=[ReceiptTender("card", 800_000, "1111"), ReceiptTender("cash", 110_000)],
        change=300,
        member="138****5678",
        points_earned=9_097,
        qr=qr,
    )


def test_wide_characters_count_double() -> None:
    assert display_width("华为 Pura 70") == 12
    assert display_width("ＡＢ") == 4  # fullwidth
    assert display_width("e\u0301") == 1  # combining accent takes no column
    line = two_columns("银行卡 Card ****1111", "8,000.00", COLUMNS_58MM)
    assert display_width(line) == COLUMNS_58MM
    assert line.endswith("8,000.00")
    assert all(display_width(part) <= 10 for part in wrap("索尼降噪耳机 WH-1000XM5", 10))


@pytest.mark.parametrize("width", [COLUMNS_58MM, COLUMNS_80MM])
def test_every_line_fits_the_paper(width: int) -> None:
    lines = render_text(doc(), width)
    assert all(display_width(line) <= width for line in lines), [(display_width(x), x) for x in lines]
    text = "\n".join(lines)
    for expected in ("苹果专柜", "SH01-C-SNY-H4-000311", "9,097.00", "****1111", "找零 Change", "138****5678"):
        assert expected in text
    # The amounts column is flush right.
    total = next(line for line in lines if line.startswith("合计"))
    assert total.endswith("9,097.00")
    assert display_width(total) == width


def test_escpos_bytes_carry_chinese_text_qr_and_cut() -> None:
    qr = sign_receipt(payload(), TILL_KEY.encode())
    out = receipt_bytes(doc(qr), COLUMNS_58MM)
    assert out.startswith(b"\x1b@")  # initialise
    assert b"\x1c&" in out  # Chinese character mode
    assert "苹果专柜".encode("gb18030") in out
    assert b"\x1d(k" in out  # native QR
    assert qr.encode() in out
    assert out.rstrip(b"\n").endswith(b"\x1dV\x00") or b"\x1dV" in out[-8:]  # cut at the end


def test_file_printer_gets_the_same_bytes(tmp_path: Path) -> None:
    target = tmp_path / "printer.bin"
    printer = File(str(target))
    print_receipt(printer, doc(), COLUMNS_80MM)
    printer.close()
    assert target.read_bytes() == receipt_bytes(doc(), COLUMNS_80MM)


def scan(text: str) -> str:
    """Render ``text`` as a QR image and read it back as a scanner would."""
    image = qrcode.make(text, error_correction=qrcode.constants.ERROR_CORRECT_M).get_image()
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    return results[0].text


def test_signed_receipt_survives_print_and_scan() -> None:
    text = sign_receipt(payload(), TILL_KEY.encode())
    assert text.startswith(PREFIX)
    assert len(text) < 500  # three tickets: a version 13 code, fine on 58 mm paper
    scanned = scan(text)
    assert scanned == text
    got = verify_receipt(scanned, {TILL_ID: TILL_KEY.verify_key.encode()})
    assert got == payload()
    assert got.tickets[0].number == "SH01-C-APL-H1-000042"


def test_tampered_or_foreign_receipts_are_refused() -> None:
    keys = {TILL_ID: TILL_KEY.verify_key.encode()}
    text = sign_receipt(payload(), TILL_KEY.encode())
    raw = b45decode(text[len(PREFIX) :])
    body, signature = raw[:-64], raw[-64:]
    # Change the paid amount inside the body, keep the old signature.
    forged_body = msgspec.msgpack.Encoder(uuid_format="bytes").encode(payload(total=1, paid=1))
    forged = PREFIX + b45encode(forged_body + signature)
    with pytest.raises(ReceiptInvalid) as info:
        verify_receipt(scan(forged), keys)
    assert info.value.reason == "bad_signature"
    flipped = PREFIX + b45encode(body[:-1] + bytes([body[-1] ^ 1]) + signature)
    with pytest.raises(ReceiptInvalid):
        verify_receipt(flipped, keys)
    # Signed by a key the counter does not know as this till's.
    other = sign_receipt(payload(), SigningKey.generate().encode())
    with pytest.raises(ReceiptInvalid) as info:
        verify_receipt(other, keys)
    assert info.value.reason == "bad_signature"
    with pytest.raises(ReceiptInvalid) as info:
        verify_receipt(text, {})
    assert info.value.reason == "unknown_signer"
    for junk, reason in (("hello", "not_a_receipt"), ("FTR9:ABC", "unsupported_version"), (PREFIX + "a", "malformed")):
        with pytest.raises(ReceiptInvalid) as info:
            verify_receipt(junk, keys)
        assert info.value.reason == reason


async def test_server_accepts_only_its_stores_active_tills(conn: asyncpg.Connection, demo: DemoInfo) -> None:
    key = SigningKey.generate()
    till = await conn.fetchval(
        "UPDATE device SET state = 'active', public_key = $1 WHERE label = 'Till 1' RETURNING id",
        key.verify_key.encode(),
    )
    text = sign_receipt(payload(store_id=demo.store_id, signer=till), key.encode())
    got = await verify_receipt_for_store(conn, demo.store_id, text)
    assert got.signer == till
    with pytest.raises(AppError) as info:
        await verify_receipt_for_store(conn, new_id(), text)
    assert info.value.code == "receipt_invalid"
    await conn.execute("UPDATE device SET state = 'revoked' WHERE id = $1", till)
    with pytest.raises(AppError) as info:
        await verify_receipt_for_store(conn, demo.store_id, text)
    assert info.value.details["reason"] == "unknown_signer"
