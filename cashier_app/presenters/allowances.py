"""Offline balances: part of a member's stored value, e-coin or points reserved for this till in advance.

Balances are only spent with the server (DESIGN §2) or from an allowance the server granted this till
before the link dropped (escrow). ``ReserveAllowance`` asks for one while the member is in the basket
online (a kind and an amount, never more than the member has); offline, ``Payment`` lets a member-balance
tender pay up to what is left of that member's allowance of that kind and tags the tender with it. The
server captures it from the allowance when the checkout reaches it, exactly once per tender.

Amounts the cashier sees are fen; an allowance counts in the ledger's units (points for points).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from cashier_app.presenters.basket import Basket
from cashier_app.presenters.ports import Allowances, HeldAllowance, MemberBalances, Tender, TillContext
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.money_text import fmt, parse_yuan
from client_common.presenters.observable import Observable
from client_common.presenters.ports import Refused, Unreachable
from protocol.ids import new_id
from protocol.payments import TenderKind

KINDS: tuple[TenderKind, ...] = ("stored_value", "ecoin", "points")

translator.add(
    {
        "en": {
            "allowance.title": "Offline balance",
            "allowance.kind": "{kind} ▸",
            "allowance.amount_hint": "Yuan (empty: all of it)",
            "allowance.reserve": "Reserve for offline",
            "allowance.give_back": "Give back",
            "allowance.held": "Reserved here for offline: {items}",
            "allowance.item": "{kind} {amount} left",
            "allowance.none": "Reserve part of a balance to spend it here if the network drops.",
            "allowance.reserved": "{amount} of {kind} reserved for offline use at this till.",
            "allowance.given_back": "What was left of the reservations went back to the member.",
            "allowance.needs_server": "Reserving a balance needs the server.",
            "allowance.no_member": "Scan a member's ticket or code first.",
            "allowance.over_balance": "The member has only {amount} of {kind}.",
            "allowance.nothing": "The member has no {kind} to reserve.",
            "why.offline_member": (
                "Offline: balances are spent only within an allowance reserved online; "
                "none is held here for this member. Take cash."
            ),
            "why.offline_allowance_left": "Offline: only {amount} of {kind} is left of this member's allowance.",
            "pay.over_allowance": "Offline: only {amount} of {kind} is left of this member's allowance.",
        },
        "zh": {
            "allowance.title": "离线余额",
            "allowance.kind": "{kind} ▸",
            "allowance.amount_hint": "元（空=全部）",
            "allowance.reserve": "预留离线使用",
            "allowance.give_back": "退回预留",
            "allowance.held": "本收银台已预留（离线可用）：{items}",
            "allowance.item": "{kind}剩 {amount}",
            "allowance.none": "可预留部分余额，断网时仍可在本收银台使用。",
            "allowance.reserved": "已为本收银台预留{kind} {amount}，离线可用。",
            "allowance.given_back": "未用完的预留已退回会员账户。",
            "allowance.needs_server": "预留余额需要连接服务器。",
            "allowance.no_member": "请先扫会员的小票或会员码。",
            "allowance.over_balance": "会员的{kind}只有 {amount}。",
            "allowance.nothing": "会员没有可预留的{kind}。",
            "why.offline_member": "离线：余额只能在联网时预留的额度内使用；本收银台没有该会员的预留。请收现金。",
            "why.offline_allowance_left": "离线：该会员预留的{kind}只剩 {amount}。",
            "pay.over_allowance": "离线：该会员预留的{kind}只剩 {amount}。",
        },
    }
)


def _kind_name(kind: TenderKind) -> str:
    return translator.tr(f"tender.{kind}")


def points_step(points_per_yuan: int) -> int:
    """The smallest amount in fen whole points pay (1 at 100 points per yuan, 2 at 50)."""
    return 100 // math.gcd(100, points_per_yuan) if points_per_yuan > 0 else 1


def to_ledger(kind: TenderKind, fen: int, points_per_yuan: int) -> int:
    """What ``fen`` of a tender takes from an allowance of its kind (points at the store's value)."""
    return fen * points_per_yuan // 100 if kind == "points" else fen


def to_fen(kind: TenderKind, amount: int, points_per_yuan: int) -> int:
    """What ``amount`` (ledger units) pays, in fen; points rounded down to what whole points pay."""
    if kind != "points":
        return amount
    if points_per_yuan <= 0:
        return 0
    fen = amount * 100 // points_per_yuan
    return fen - fen % points_step(points_per_yuan)


def best_allowance(
    held: Sequence[HeldAllowance], kind: TenderKind, tenders: Sequence[Tender], points_per_yuan: int
) -> tuple[HeldAllowance | None, int]:
    """The allowance of ``kind`` with the most left once this basket's tenders are taken from it, and that
    much in fen (0 and None when there is none)."""
    chosen: HeldAllowance | None = None
    most = 0
    for a in held:
        if a.kind != kind:
            continue
        used = sum(to_ledger(kind, t.amount, points_per_yuan) for t in tenders if t.allowance_id == a.allowance_id)
        left = to_fen(kind, max(0, a.left - used), points_per_yuan)
        if chosen is None or left > most:
            chosen, most = a, left
    return chosen, most


class ReserveAllowance(Observable):
    """The small panel under the member's balances: choose a kind, type an amount, **Reserve for offline**."""

    def __init__(
        self,
        basket: Basket,
        allowances: Allowances,
        connection: ConnectionFeed,
        till: TillContext | Callable[[], TillContext],
    ) -> None:
        super().__init__()
        self.basket = basket
        self._allowances = allowances
        self._connection = connection
        self._rules = till if callable(till) else (lambda: till)
        self.kind: TenderKind = "stored_value"
        self.message = ""
        self.busy = False
        # kept while an attempt's answer is unknown: asking again with it is a replay, never a second hold
        self._attempt: tuple[uuid.UUID, uuid.UUID, TenderKind, int] | None = None
        basket.observe(self._basket_changed)
        connection.observe(lambda _state: self.changed())

    def _basket_changed(self) -> None:
        if not self.basket.tickets:
            self.message = ""
        self.changed()

    @property
    def visible(self) -> bool:
        return self.basket.member_id is not None

    def unavailable(self) -> str:
        """Why nothing can be reserved now ("" when it can)."""
        if self.basket.member_id is None:
            return translator.tr("allowance.no_member")
        if not self._connection.state.online:
            return translator.tr("allowance.needs_server")
        return ""

    def next_kind(self) -> None:
        self.kind = KINDS[(KINDS.index(self.kind) + 1) % len(KINDS)]
        self.message = ""
        self.changed()

    @property
    def kind_text(self) -> str:
        return translator.tr("allowance.kind", kind=_kind_name(self.kind))

    def held(self) -> tuple[HeldAllowance, ...]:
        member_id = self.basket.member_id
        return () if member_id is None else self._allowances.held(member_id)

    @property
    def summary(self) -> str:
        """What this till holds for the member, e.g. "Reserved here for offline: Stored value ¥300.00 left"."""
        rate = self._rules().points_per_yuan
        items = []
        for kind in KINDS:
            of_kind = [a for a in self.held() if a.kind == kind]
            if of_kind:
                left = sum(to_fen(kind, a.left, rate) for a in of_kind)
                items.append(translator.tr("allowance.item", kind=_kind_name(kind), amount=fmt(left)))
        return translator.tr("allowance.held", items=" · ".join(items)) if items else translator.tr("allowance.none")

    async def reserve(self, amount_text: str = "") -> bool:
        """Reserve ``amount_text`` yuan of the chosen kind (empty: all the member has of it) for this till."""
        if why := self.unavailable():
            return self._say_text(why)
        member_id = self.basket.member_id
        assert member_id is not None
        member = self.basket.member
        rate = self._rules().points_per_yuan
        most = member.spendable(self.kind) if member is not None else None
        if most is not None and self.kind == "points":
            most -= most % points_step(rate)
        amount = most if not amount_text.strip() else parse_yuan(amount_text)
        if amount is None or (amount <= 0 and amount_text.strip()):
            return self._say("pay.amount_bad")
        if most is not None and most <= 0:
            return self._say("allowance.nothing", kind=_kind_name(self.kind))
        if most is not None and amount > most:
            return self._say("allowance.over_balance", kind=_kind_name(self.kind), amount=fmt(most))
        if self.kind == "points" and amount % points_step(rate):
            return self._say("pay.points_not_whole", step=fmt(points_step(rate)), rate=rate)
        ledger = to_ledger(self.kind, amount, rate)
        attempt = self._attempt
        if attempt is None or attempt[1:] != (member_id, self.kind, ledger):
            attempt = (new_id(), member_id, self.kind, ledger)
        self._attempt = attempt
        self.busy = True
        self.changed()
        try:
            await self._allowances.reserve(*attempt)
        except Refused as exc:
            self._attempt = None
            return self._say_text(exc.message)
        except Unreachable:
            return self._say("error.network")
        finally:
            self.busy = False
            self.changed()
        self._attempt = None
        if member is not None:  # the reserved part is no longer available online
            self.basket.member = _less(member, self.kind, amount, ledger)
            self.basket.changed()
        return self._say("allowance.reserved", ok=True, kind=_kind_name(self.kind), amount=fmt(amount))

    async def give_back(self) -> bool:
        """Return what is left of every allowance this till holds for the member (online)."""
        if why := self.unavailable():
            return self._say_text(why)
        held = self.held()
        if not held:
            return False
        self.busy = True
        self.changed()
        member, rate = self.basket.member, self._rules().points_per_yuan
        try:
            for a in held:
                await self._allowances.give_back(a.allowance_id)
                if member is not None:
                    member = _less(member, a.kind, -to_fen(a.kind, a.left, rate), -a.left)
        except Refused as exc:
            return self._say_text(exc.message)
        except Unreachable:
            return self._say("error.network")
        finally:
            self.busy = False
            if member is not None and self.basket.member is not None:
                self.basket.member = member
                self.basket.changed()
            self.changed()
        return self._say("allowance.given_back", ok=True)

    def _say(self, key: str, ok: bool = False, **values: Any) -> bool:
        self._say_text(translator.tr(key, **values))
        return ok

    def _say_text(self, text: str) -> bool:
        self.message = text
        self.changed()
        return False


def _less(member: MemberBalances, kind: TenderKind, fen: int, ledger: int) -> MemberBalances:
    """The member's balances once ``ledger`` units (worth ``fen``) of ``kind`` are reserved (negative: back)."""
    if kind == "stored_value":
        return replace(member, stored_value=member.stored_value - ledger)
    if kind == "ecoin":
        return replace(member, e_coin=member.e_coin - ledger)
    return replace(member, points=member.points - ledger, points_value=member.points_value - fen)
