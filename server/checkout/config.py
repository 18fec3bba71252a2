"""Checkout settings an operator can change (docs/checkout.md, docs/configuration.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from protocol.checkout import CheckoutCodes
from server.errors import AppError


@dataclass(frozen=True)
class CheckoutConfig:
    refund_approval_limit: int = 50_000
    """Refunds above this many fen (per checkout, counting earlier refunds) need a supervisor."""
    points_per_yuan: int = 100
    """Points spent as a tender: how many points pay one yuan (100: one point per fen)."""
    hold_minutes: int = 10
    """How long a member-balance reservation made for a checkout lives if the checkout dies."""

    def points_for(self, fen: int) -> int:
        """The points that pay ``fen``; refused when the amount cannot be paid in whole points."""
        points, rest = divmod(fen * self.points_per_yuan, 100)
        if rest:
            raise AppError(
                CheckoutCodes.POINTS_NOT_WHOLE,
                f"{fen} fen cannot be paid in whole points at {self.points_per_yuan} points per yuan; "
                "change the points amount.",
                details={"amount": fen, "points_per_yuan": self.points_per_yuan},
            )
        return points


def config_from_env(env: dict[str, str] | None = None) -> CheckoutConfig:
    e = os.environ if env is None else env
    d = CheckoutConfig()
    return CheckoutConfig(
        refund_approval_limit=int(e.get("FT_REFUND_APPROVAL_LIMIT", d.refund_approval_limit)),
        points_per_yuan=int(e.get("FT_POINTS_PER_YUAN", d.points_per_yuan)),
        hold_minutes=int(e.get("FT_CHECKOUT_HOLD_MINUTES", d.hold_minutes)),
    )
