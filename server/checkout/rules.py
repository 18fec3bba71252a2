"""The money rules of checkout and refunds, as pure functions: no database, no sockets, no clock.

Everything is integer fen. The service calls these inside its transaction; the tests drive them with
hypothesis so the sums always balance.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from protocol.checkout import CHANGE_GIVING, MEMBER_TENDERS, PROVIDER_TENDERS, CheckoutCodes, RefundTo, TenderKind
from server.errors import AppError


@dataclass(frozen=True)
class Tender:
    """A tender offered toward a total (``amount`` is what was handed over or charged)."""

    id: uuid.UUID
    kind: TenderKind
    amount: int


@dataclass(frozen=True)
class SettledTender:
    """A tender as settled: ``applied`` counts toward the total; ``change`` goes back in cash."""

    id: uuid.UUID
    kind: TenderKind
    tendered: int
    applied: int
    change: int


@dataclass(frozen=True)
class PaidTender:
    """A settled tender as a refund sees it: what it paid and what has gone back already."""

    id: uuid.UUID
    kind: TenderKind
    applied: int
    refunded: int = 0

    @property
    def refundable(self) -> int:
        return self.applied - self.refunded


@dataclass(frozen=True)
class RefundShare:
    """How much of one original tender goes back, and where."""

    tender_id: uuid.UUID
    kind: TenderKind
    amount: int
    to: RefundTo


def refund_destination(kind: TenderKind) -> RefundTo:
    """Cash comes back from the drawer, card and wallet through the provider, the rest to the member."""
    if kind in CHANGE_GIVING:
        return "drawer"
    if kind in PROVIDER_TENDERS:
        return "provider"
    return "member"


def fen_text(amount: int) -> str:
    """``¥1,234.50`` for 123450 fen."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 100)
    return f"{sign}¥{whole:,}.{frac:02d}"


def settle_tenders(total: int, tenders: Sequence[Tender]) -> list[SettledTender]:
    """Check a tender set against ``total`` and say what each tender pays and the change.

    Every tender is positive. Non-cash tenders together may not pay more than the total (they match
    exactly). At most one cash tender; it covers what the others leave and any excess is change, but
    a cash tender that covers nothing is refused (the total is already paid without it).
    """
    if total < 0:
        raise ValueError("a checkout total is never negative")
    seen: set[uuid.UUID] = set()
    for t in tenders:
        if t.id in seen:
            raise AppError(
                CheckoutCodes.DUPLICATE_TENDER,
                "Two tenders share one id; give each tender its own id.",
                details={"tender_id": str(t.id)},
            )
        seen.add(t.id)
        if t.amount <= 0:
            raise AppError(
                CheckoutCodes.TENDER_NOT_POSITIVE,
                f"A {t.kind} tender of {fen_text(t.amount)} is not allowed; every tender must be more than zero.",
                details={"tender_id": str(t.id), "amount": t.amount},
            )
    cash = [t for t in tenders if t.kind in CHANGE_GIVING]
    if len(cash) > 1:
        raise AppError(
            CheckoutCodes.TOO_MANY_CHANGE_TENDERS,
            "Only one cash tender per checkout; add the cash amounts together.",
            details={"count": len(cash)},
        )
    other = sum(t.amount for t in tenders if t.kind not in CHANGE_GIVING)
    if other > total:
        raise AppError(
            CheckoutCodes.TENDER_OVERPAID,
            f"Card, wallet and member tenders come to {fen_text(other)} but only {fen_text(total)} is due; "
            "only cash may be more than what is due.",
            details={"non_cash": other, "total": total},
        )
    due_in_cash = total - other
    offered_cash = cash[0].amount if cash else 0
    if offered_cash < due_in_cash:
        raise AppError(
            CheckoutCodes.TENDER_SHORT,
            f"The tenders come to {fen_text(other + offered_cash)}, {fen_text(due_in_cash - offered_cash)} short of "
            f"{fen_text(total)}; add a tender.",
            details={"tendered": other + offered_cash, "total": total, "short": due_in_cash - offered_cash},
        )
    if cash and due_in_cash == 0:
        raise AppError(
            CheckoutCodes.CASH_NOT_NEEDED,
            "The other tenders already pay the whole total; remove the cash tender.",
            details={"tender_id": str(cash[0].id)},
        )
    settled = []
    for t in tenders:
        if t.kind in CHANGE_GIVING:
            settled.append(SettledTender(t.id, t.kind, t.amount, due_in_cash, t.amount - due_in_cash))
        else:
            settled.append(SettledTender(t.id, t.kind, t.amount, t.amount, 0))
    return settled


def needs_token(kind: TenderKind) -> bool:
    """Card and wallet need the terminal's token or the customer's wallet code."""
    return kind in PROVIDER_TENDERS


def needs_member(kind: TenderKind) -> bool:
    """Points, e-coin and stored value are spent from a member's account."""
    return kind in MEMBER_TENDERS


def split_pro_rata(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` over ``weights`` in proportion, in whole fen, summing exactly to ``amount``.

    Largest-remainder rounding; ties go to the earlier weight. No share exceeds its weight when
    ``amount <= sum(weights)``, and a zero weight always gets zero.
    """
    if amount < 0 or any(w < 0 for w in weights):
        raise ValueError("amounts and weights are never negative")
    whole = sum(weights)
    if amount == 0:
        return [0] * len(weights)
    if whole == 0:
        raise ValueError("nothing to split over")
    shares = [amount * w // whole for w in weights]
    remainders = [(amount * w % whole, -i) for i, w in enumerate(weights)]
    left = amount - sum(shares)
    for _, neg_i in sorted(remainders, reverse=True)[:left]:
        shares[-neg_i] += 1
    return shares


def allocate_refund(amount: int, tenders: Sequence[PaidTender]) -> list[RefundShare]:
    """Give ``amount`` back to the original tenders in proportion to what each can still give back.

    Each tender gets back at most what it paid less what it has already given back, the shares sum
    exactly to ``amount``, and refunding everything returns exactly what every tender paid.
    """
    if amount <= 0:
        raise ValueError("a refund is always more than zero")
    room = sum(t.refundable for t in tenders)
    if amount > room:
        raise AppError(
            CheckoutCodes.REFUND_EXCEEDS_PAID,
            f"Only {fen_text(room)} of this checkout can still be refunded, not {fen_text(amount)}.",
            details={"refundable": room, "asked": amount},
        )
    shares = split_pro_rata(amount, [t.refundable for t in tenders])
    return [
        RefundShare(t.id, t.kind, share, refund_destination(t.kind))
        for t, share in zip(tenders, shares, strict=True)
        if share > 0
    ]


def line_refund_amount(line_total: int, qty: int, returned_before: int, returning: int) -> int:
    """What returning ``returning`` more units of a line gives back, its discount pro-rated.

    Computed from the cumulative share so that returning a line in any number of steps gives back
    exactly ``line_total`` in the end, never a fen more or less.
    """
    if qty < 1 or line_total < 0 or returned_before < 0 or returning < 1:
        raise ValueError("bad line figures")
    if returned_before + returning > qty:
        raise AppError(
            CheckoutCodes.REFUND_QTY_EXCEEDS,
            f"Only {qty - returned_before} of {qty} units of this line can still be returned.",
            details={"sold": qty, "returned": returned_before, "asked": returning},
        )
    return line_total * (returned_before + returning) // qty - line_total * returned_before // qty


def needs_approval(amount: int, refunded_before: int, limit: int) -> bool:
    """A refund needs a supervisor when it, or the checkout's refunds so far with it, exceed ``limit``.

    Counting earlier refunds stops a large refund from being split into small ones under the limit.
    A negative limit means every refund needs approval.
    """
    return amount > limit or refunded_before + amount > limit
