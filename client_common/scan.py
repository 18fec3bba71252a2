"""What a keyboard-wedge scanner types: the code, then Enter. Both apps read scans the same way."""

from __future__ import annotations


def clean_scan(text: str) -> str:
    """Drop what scanners add around a code (CR/LF, tabs, stray spaces)."""
    return "".join(ch for ch in text if ch.isprintable()).strip()
