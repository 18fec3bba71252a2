"""Receipts to ESC/POS through python-escpos (any of its printers: USB, network, file, dummy).

Chinese receipt printers print GB18030 text once Chinese character mode is on (``FS &``), so the
text is sent as GB18030 bytes; layout commands, the QR code and the cut go through python-escpos.
"""

from __future__ import annotations

from escpos.escpos import Escpos
from escpos.printer import Dummy

from server.receipts.layout import COLUMNS_80MM, ReceiptDoc, render_text, wrap

CHINESE_MODE_ON = b"\x1c\x26"  # FS &


def _line(printer: Escpos, text: str) -> None:
    printer._raw(text.encode("gb18030", errors="replace") + b"\n")


def print_receipt(printer: Escpos, doc: ReceiptDoc, width: int = COLUMNS_80MM, native_qr: bool = True) -> None:
    """Print ``doc`` on ``printer`` for a paper ``width`` of 32 (58 mm) or 48 (80 mm) columns.

    ``native_qr`` has the printer draw the QR code itself (``GS ( k``); older printers need it
    sent as an image instead.
    """
    printer.hw("INIT")
    printer._raw(CHINESE_MODE_ON)
    lines = render_text(doc, width)
    header = len(wrap(doc.store_name, width))
    printer.set(align="left", bold=True)
    for line in lines[:header]:
        _line(printer, line)
    printer.set(align="left", bold=False, normal_textsize=True)
    for line in lines[header:]:
        _line(printer, line)
    if doc.qr:
        printer.set(align="center")
        printer.qr(doc.qr, size=4 if width >= COLUMNS_80MM else 3, native=native_qr)
        printer.set(align="left")
    printer.cut()


def receipt_bytes(doc: ReceiptDoc, width: int = COLUMNS_80MM, native_qr: bool = True) -> bytes:
    """The ESC/POS bytes of ``doc`` (what a printer would receive)."""
    dummy = Dummy()
    print_receipt(dummy, doc, width, native_qr)
    return bytes(dummy.output)
