"""Drawing a ticket QR: the symbol settings the handheld screen and the tests share (docs/ticket-qr.md)."""

from __future__ import annotations

import qrcode
import qrcode.constants
from PIL import Image
from qrcode.util import MODE_ALPHA_NUM, MODE_NUMBER, QRData

from protocol.qr import PREFIX

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
"""15 % recovery: survives glare and a scratched screen, and keeps a 20-line ticket at version 22 or less."""

QUIET_ZONE = 4  # modules of white border the standard asks for
MIN_MODULE_PX = 4  # below this a scanner at arm's length starts to miss modules on a phone screen


def make_qr(text: str) -> qrcode.QRCode:
    """A QR with the prefix in alphanumeric mode and the digits in numeric mode (the smallest symbol)."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE)
    if text.startswith(PREFIX) and text[len(PREFIX) :].isdigit():
        qr.add_data(QRData(PREFIX.encode(), mode=MODE_ALPHA_NUM))
        qr.add_data(QRData(text[len(PREFIX) :].encode(), mode=MODE_NUMBER))
    else:
        qr.add_data(text)
    qr.make(fit=True)
    return qr


def module_pixels(qr: qrcode.QRCode, available_px: int) -> int:
    """The largest whole number of pixels per module that fits ``available_px`` (never blurred)."""
    modules = qr.modules_count + 2 * QUIET_ZONE
    return max(1, int(available_px) // int(modules))


def render(text: str, available_px: int = 0, box_size: int = 0) -> Image.Image:
    """A greyscale picture of the ticket QR: fitted to ``available_px`` or with ``box_size`` pixels per module."""
    qr = make_qr(text)
    qr.box_size = box_size or module_pixels(qr, available_px)
    image: Image.Image = qr.make_image().get_image().convert("L")
    return image
