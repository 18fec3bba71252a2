"""Reading and showing amounts the way a store person types them: ``12``, ``12.5``, ``¥12.50``."""

from __future__ import annotations

from protocol.money import Money


def parse_yuan(text: str) -> int | None:
    """Fen from yuan text, exactly (no floats); None when it is not an amount with at most two decimals."""
    t = text.strip().replace("¥", "").replace("￥", "").replace(",", "").strip()
    if not t or t.count(".") > 1:
        return None
    whole, _, frac = t.partition(".")
    if not (whole or frac) or (whole and not whole.isdigit()) or (frac and not frac.isdigit()) or len(frac) > 2:
        return None
    return int(whole or "0") * 100 + int((frac + "00")[:2])


def fmt(fen: int, currency: str = "CNY") -> str:
    return Money(fen, currency).format()
