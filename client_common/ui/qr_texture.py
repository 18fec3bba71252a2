"""A QR code as a Kivy texture: one texel per module, drawn with nearest filtering so it stays sharp."""

from __future__ import annotations

import qrcode
from kivy.graphics.texture import Texture

QUIET_ZONE = 4  # modules of white around the code, as the standard asks


def qr_rows(text: str) -> list[list[bool]]:
    """The code's modules, top row first, quiet zone included (True = dark)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def qr_texture(text: str) -> Texture:
    rows = qr_rows(text)
    size = len(rows)
    # Kivy textures start at the bottom row.
    data = bytes(0 if dark else 255 for row in reversed(rows) for dark in row)
    texture = Texture.create(size=(size, size), colorfmt="luminance")
    texture.blit_buffer(data, colorfmt="luminance", bufferfmt="ubyte")
    texture.mag_filter = "nearest"
    texture.min_filter = "nearest"
    return texture
