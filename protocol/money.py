"""Money is integer minor units (fen) with a currency; never floats."""

from __future__ import annotations

from typing import Annotated

import msgspec

Minor = Annotated[int, msgspec.Meta(ge=-(10**15), le=10**15)]
"""An amount in minor units (fen for CNY). Signed so refunds and corrections can be expressed."""

Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]


class Money(msgspec.Struct, frozen=True):
    """An amount with its currency. Arithmetic refuses to mix currencies."""

    amount: Minor
    currency: Currency = "CNY"

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")

    def format(self) -> str:
        """Human text such as ``¥12.34``."""
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 100)
        symbol = "¥" if self.currency == "CNY" else self.currency + " "
        return f"{sign}{symbol}{whole:,}.{frac:02d}"
