"""The receipt printer's grid: fixed columns where a Chinese character (or any East Asian wide or
fullwidth character) takes two, so widths are measured in columns, not characters. 58 mm paper holds
32 columns, 80 mm paper 48. Shared by the server's receipts and the till's printed shift reports.
"""

from __future__ import annotations

import functools
import unicodedata

COLUMNS_58MM = 32
COLUMNS_80MM = 48


@functools.lru_cache(maxsize=8192)  # a receipt measures the same few characters thousands of times
def char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _narrow(text: str) -> bool:
    """Printable ASCII only: one column per character."""
    return text.isascii() and text.isprintable()


def display_width(text: str) -> int:
    """Columns ``text`` takes on a receipt printer."""
    if _narrow(text):
        return len(text)
    return sum(map(char_width, text))


def fit(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns (never splitting a wide character)."""
    if _narrow(text):
        return text[: max(width, 0)]
    out, used = [], 0
    for ch in text:
        w = char_width(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def wrap(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` columns, at spaces where possible."""
    lines: list[str] = []
    rest = text.strip()
    while rest:
        if display_width(rest) <= width:
            lines.append(rest)
            break
        head = fit(rest, width)
        cut = head.rfind(" ")
        if cut > 0 and display_width(head[:cut]) >= width // 2:
            head = head[:cut]
        lines.append(head.rstrip())
        rest = rest[len(head) :].lstrip()
    return lines or [""]


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def center(text: str, width: int) -> str:
    text = fit(text, width)
    left = (width - display_width(text)) // 2
    return " " * left + text


def two_columns(left: str, right: str, width: int) -> str:
    """``left`` and ``right`` on one line, ``right`` flush with the edge; ``left`` is shortened to fit."""
    right = fit(right, width)
    room = width - display_width(right) - 1
    left = fit(left, max(0, room))
    return left + " " * (width - display_width(left) - display_width(right)) + right


def yuan(fen: int) -> str:
    """Fen as ``1,234.50`` (no currency sign: many printers cannot print ¥ in their Chinese mode)."""
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{frac:02d}"
