"""A QR code as a Kivy texture: one texel per module, drawn with nearest filtering so it stays sharp."""

from __future__ import annotations

from kivy.graphics.texture import Texture

from client_common.ticket_qr import make_qr


def qr_rows(text: str) -> list[list[bool]]:
    """The code's modules, top row first, quiet zone included (True = dark); the smallest symbol."""
    return [list(row) for row in make_qr(text).get_matrix()]


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
