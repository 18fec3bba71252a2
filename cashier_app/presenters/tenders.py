"""Paying the basket with any mix of tenders; the amount still to pay is always on screen.

Rules (the server's, checked here first so the cashier hears them at once): every amount is exact
fen; one cash tender, and only cash may be more than what is due (the rest is change); card, wallet
and member balances pay at most what remains. A card or wallet payment gets its id *before* the first
attempt; when the answer is lost the same id is asked again, never charged with a new one.

Offline: tickets read from their QR codes settle into the outbox with cash, or with a card charged on
the standalone card terminal (the cashier keys in the approval code it printed and the card's last four
digits; nothing is charged through the server), or with a member's balance up to what is left of the
allowance reserved for them at this till while online (``presenters.allowances``); tenders that need the
server are disabled with the reason shown.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cashier_app.presenters.allowances import best_allowance
from cashier_app.presenters.basket import Basket
from cashier_app.presenters.ports import (
    TRY_AGAIN_LATER,
    Allowances,
    Charge,
    Checkouts,
    HeldAllowance,
    PaymentTerminal,
    Settled,
    SettleRequest,
    Tender,
    TillContext,
)
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.money_text import fmt, parse_yuan
from client_common.presenters.observable import Observable
from client_common.presenters.ports import Refused, Unreachable
from protocol.ids import new_id
from protocol.payments import TenderKind

PROVIDER: tuple[TenderKind, ...] = ("card", "wallet")
TERMINAL_REF = re.compile(r"[A-Za-z0-9-]{4,32}")  # as the checkout's ``terminal_ref`` accepts
MEMBER: tuple[TenderKind, ...] = ("stored_value", "ecoin", "points")

translator.add(
    {
        "en": {
            "tender.cash": "Cash",
            "tender.card": "Card",
            "tender.wallet": "Wallet",
            "tender.stored_value": "Stored value",
            "tender.ecoin": "E-coin",
            "tender.points": "Points",
            "pay.remaining": "Still to pay {amount}",
            "pay.change": "Change {amount}",
            "pay.paid_up": "Paid in full",
            "pay.amount_bad": "Enter the amount as yuan, e.g. 100 or 99.50.",
            "pay.nothing_left": "Nothing is left to pay; settle the checkout.",
            "pay.over_remaining": "{kind} can pay at most {amount}; only cash may be more than what is due.",
            "pay.over_balance": "The member has only {amount} of {kind}.",
            "pay.points_not_whole": (
                "At {rate} points per yuan, points pay in steps of {step}; change the points amount."
            ),
            "pay.need_instrument": "Swipe the card or scan the customer's payment code.",
            "pay.approved": "{kind} {amount} approved {masked}",
            "pay.declined": "{kind} declined: {reason}. Ask for another card or tender.",
            "pay.unknown": (
                "No answer about the {kind} payment of {amount}. Do not charge again: tap Check to ask what happened."
            ),
            "pay.failed": "The {kind} payment did not go through; you may try again.",
            "pay.still_unknown": "Still no answer about the {kind} payment; check again shortly or ask a supervisor.",
            "pay.pending_first": "Resolve the {kind} payment waiting for an answer first.",
            "pay.check": "Check",
            "pay.keep_card": "An approved {kind} payment stays; a supervisor refunds it if the customer leaves.",
            "pay.settle": "Settle",
            "pay.not_complete": "{amount} is still to pay.",
            "pay.queued": "Offline: the checkout is kept and sent when the network is back.",
            "pay.needs_network": "This checkout needs the server: {reason}",
            "decline.insufficient_funds": "insufficient funds",
            "decline.card_expired": "the card has expired",
            "decline.do_not_honour": "the bank refused it",
            "decline.invalid_card": "the card number is not valid",
            "why.no_tickets": "Scan a ticket first.",
            "why.paid_up": "Nothing is left to pay.",
            "why.not_here": "Not taken at this till.",
            "why.offline_provider": "Offline: card and wallet payments go through the server. Take cash.",
            "why.offline_wallet": "Offline: wallet payments need the server. Take cash or a card on the card terminal.",
            "pay.terminal_hint": "Offline · card terminal: approval code and last 4, e.g. 123456 4242",
            "pay.instrument_hint": "Card number or customer's payment code",
            "pay.terminal_bad": (
                "Type the approval code the card terminal printed and the card's last four digits, e.g. 123456 4242."
            ),
            "pay.terminal_taken": "Card on the terminal {amount} (approval {ref}, {masked}) recorded.",
            "why.no_member": "Needs a member: scan the member's code.",
            "why.no_balance": "The member has no {kind} to spend.",
            "why.not_from_codes": "Offline, only tickets scanned from their QR codes can be settled.",
        },
        "zh": {
            "tender.cash": "现金",
            "tender.card": "银行卡",
            "tender.wallet": "移动支付",
            "tender.stored_value": "储值",
            "tender.ecoin": "电子币",
            "tender.points": "积分",
            "pay.remaining": "还需支付 {amount}",
            "pay.change": "找零 {amount}",
            "pay.paid_up": "已付清",
            "pay.amount_bad": "请按元输入金额，如 100 或 99.50。",
            "pay.nothing_left": "已无待付金额；请结账。",
            "pay.over_remaining": "{kind}最多可付 {amount}；只有现金可以多付找零。",
            "pay.over_balance": "会员的{kind}只有 {amount}。",
            "pay.points_not_whole": "按每元 {rate} 积分计算，积分须以 {step} 为单位抵扣；请修改积分金额。",
            "pay.need_instrument": "请刷卡或扫描顾客的付款码。",
            "pay.approved": "{kind} {amount} 已成功 {masked}",
            "pay.declined": "{kind}被拒：{reason}。请换卡或换其他方式。",
            "pay.unknown": "{kind} {amount} 未收到结果。请勿重复扣款：点“查询”确认结果。",
            "pay.failed": "{kind}未扣款成功；可以重试。",
            "pay.still_unknown": "{kind}仍无结果；请稍后再查询或联系主管。",
            "pay.pending_first": "请先处理等待结果的{kind}付款。",
            "pay.check": "查询",
            "pay.keep_card": "已成功的{kind}付款保留；顾客离开时由主管退款。",
            "pay.settle": "结账",
            "pay.not_complete": "还需支付 {amount}。",
            "pay.queued": "离线：本单已保存，联网后自动上传。",
            "pay.needs_network": "本单需要连接服务器：{reason}",
            "decline.insufficient_funds": "余额不足",
            "decline.card_expired": "卡已过期",
            "decline.do_not_honour": "发卡行拒绝",
            "decline.invalid_card": "卡号无效",
            "why.no_tickets": "请先扫小票。",
            "why.paid_up": "已无待付金额。",
            "why.not_here": "本收银台不收此方式。",
            "why.offline_provider": "离线：银行卡和移动支付需经服务器。请收现金。",
            "why.offline_wallet": "离线：移动支付需要服务器。请收现金或在刷卡机上刷卡。",
            "pay.terminal_hint": "离线 · 刷卡机：授权码和卡号后四位，如 123456 4242",
            "pay.instrument_hint": "银行卡号或顾客付款码",
            "pay.terminal_bad": "请输入刷卡机打印的授权码和卡号后四位，如 123456 4242。",
            "pay.terminal_taken": "刷卡机银行卡 {amount}（授权码 {ref}，{masked}）已记录。",
            "why.no_member": "需要会员：请扫会员码。",
            "why.no_balance": "会员没有可用的{kind}。",
            "why.not_from_codes": "离线时只能结算扫二维码加入的小票。",
        },
    }
)


def kind_name(kind: TenderKind) -> str:
    return translator.tr(f"tender.{kind}")


@dataclass(frozen=True)
class PendingCharge:
    """A card or wallet payment whose outcome is not known yet; it keeps its id for every retry."""

    payment_id: uuid.UUID
    kind: TenderKind
    amount: int
    instrument: str


@dataclass(frozen=True)
class TenderRow:
    tender_id: uuid.UUID
    label: str
    amount: str
    removable: bool


class Payment(Observable):
    def __init__(
        self,
        basket: Basket,
        terminal: PaymentTerminal,
        checkouts: Checkouts,
        connection: ConnectionFeed,
        till: TillContext | Callable[[], TillContext],
        allowances: Allowances | None = None,
    ) -> None:
        super().__init__()
        self.basket = basket
        self._allowances = allowances  # offline, balances are spent from these only
        self._terminal = terminal
        self._checkouts = checkouts
        self._connection = connection
        self._rules = till if callable(till) else (lambda: till)
        self.tenders: list[Tender] = []
        self.pending: PendingCharge | None = None
        self.checkout_id: uuid.UUID | None = None
        self.shift_id: uuid.UUID | None = None
        self.settled: Settled | None = None
        self.message = ""
        self.busy = False
        basket.observe(self.changed)
        connection.observe(lambda _state: self.changed())

    @property
    def _till(self) -> TillContext:
        """The till's rules as the server last gave them (read afresh: they change on reconnect)."""
        return self._rules()

    # --- figures ----------------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return self.basket.total

    @property
    def non_cash(self) -> int:
        return sum(t.amount for t in self.tenders if t.kind != "cash")

    @property
    def cash(self) -> int:
        return sum(t.amount for t in self.tenders if t.kind == "cash")

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.non_cash - self.cash)

    @property
    def change(self) -> int:
        return max(0, self.cash - max(0, self.total - self.non_cash))

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.remaining == 0 and self.pending is None

    # --- what can be used now ---------------------------------------------------------------------

    def unavailable(self, kind: TenderKind) -> str:
        """Why ``kind`` cannot be taken right now ("" when it can): shown on its disabled button."""
        if kind not in self._till.tender_kinds:
            return translator.tr("why.not_here")
        if not self.basket.tickets:
            return translator.tr("why.no_tickets")
        if self.remaining == 0:
            return translator.tr("why.paid_up")
        online = self._connection.state.online
        if not online and not self.basket.all_from_codes:
            return translator.tr("why.not_from_codes")
        if kind == "wallet" and not online:
            return translator.tr("why.offline_wallet")
        # offline, "card" is the standalone card terminal (``add_terminal_card``)
        if kind in MEMBER:
            if not online:
                return self._offline_balance_problem(kind)
            member = self.basket.member
            if member is None:
                return translator.tr("why.no_member")
            if self._left_of(kind) <= 0:
                return translator.tr("why.no_balance", kind=kind_name(kind))
        return ""

    @property
    def points_step(self) -> int:
        """The smallest amount in fen that whole points pay at this store's points value (1 at 100 points
        per yuan, 2 at 50)."""
        rate = self._till.points_per_yuan
        return 100 // math.gcd(100, rate) if rate > 0 else 1

    def _allowance(self, kind: TenderKind) -> tuple[HeldAllowance | None, int]:
        """Offline: the member's allowance of ``kind`` this tender draws on, and what it still pays in fen."""
        member_id = self.basket.member_id
        if self._allowances is None or member_id is None:
            return None, 0
        held = self._allowances.held(member_id)
        return best_allowance(held, kind, self.tenders, self._till.points_per_yuan)

    def _offline_balance_problem(self, kind: TenderKind) -> str:
        allowance, left = self._allowance(kind)
        if allowance is None:
            return translator.tr("why.offline_member")
        if left <= 0:
            return translator.tr("why.offline_allowance_left", kind=kind_name(kind), amount=fmt(0))
        return ""

    def _left_of(self, kind: TenderKind) -> int:
        if not self._connection.state.online:
            return self._allowance(kind)[1]
        member = self.basket.member
        spendable = (member.spendable(kind) if member else None) or 0
        return spendable - sum(t.amount for t in self.tenders if t.kind == kind)

    # --- adding tenders ---------------------------------------------------------------------------

    def _amount(self, text: str, default: int) -> int | None:
        if not text.strip():
            return default
        amount = parse_yuan(text)
        return amount if amount is not None and amount > 0 else None

    def add_cash(self, amount_text: str = "") -> bool:
        """Cash handed over (empty: exactly what remains). Two cash amounts become one cash tender."""
        if why := self.unavailable("cash"):
            return self._fail_text(why)
        amount = self._amount(amount_text, self.remaining)
        if amount is None:
            return self._fail("pay.amount_bad")
        existing = next((t for t in self.tenders if t.kind == "cash"), None)
        if existing is not None:
            self.tenders[self.tenders.index(existing)] = Tender(existing.id, "cash", existing.amount + amount)
        else:
            self.tenders.append(Tender(new_id(), "cash", amount))
        self.message = ""
        self.changed()
        return True

    def add_balance(self, kind: TenderKind, amount_text: str = "") -> bool:
        """Stored value, e-coin or points (in fen of value); empty means as much as can be used."""
        if kind not in MEMBER:
            raise ValueError(f"{kind} is not a member balance")
        if why := self.unavailable(kind):
            return self._fail_text(why)
        left = self._left_of(kind)
        most = min(left, self.remaining)
        if kind == "points":
            most -= most % self.points_step  # as much as whole points can pay
        amount = self._amount(amount_text, most)
        if amount is None:
            return self._fail("pay.amount_bad")
        if amount > self.remaining:
            return self._fail("pay.over_remaining", kind=kind_name(kind), amount=fmt(self.remaining))
        offline = not self._connection.state.online
        if amount > left:
            return self._fail(
                "pay.over_allowance" if offline else "pay.over_balance", kind=kind_name(kind), amount=fmt(left)
            )
        if kind == "points" and amount % self.points_step:
            return self._fail("pay.points_not_whole", step=fmt(self.points_step), rate=self._till.points_per_yuan)
        allowance = self._allowance(kind)[0] if offline else None  # offline the tender is tagged with it
        self.tenders.append(Tender(new_id(), kind, amount, allowance_id=allowance.allowance_id if allowance else None))
        self.message = ""
        self.changed()
        return True

    @property
    def instrument_hint(self) -> str:
        """What the card field asks for: the card or payment code online, the terminal's approval offline."""
        return translator.tr("pay.instrument_hint" if self._connection.state.online else "pay.terminal_hint")

    def add_terminal_card(self, approval_text: str, amount_text: str = "") -> bool:
        """A card charged on the standalone card terminal (offline, or whenever the provider cannot be
        used): ``approval_text`` is the approval code the terminal printed and the card's last four digits,
        e.g. ``123456 4242``. Nothing is charged here; the server records it when the checkout reaches it."""
        if why := self.unavailable("card"):
            return self._fail_text(why)
        parts = approval_text.replace("/", " ").split()
        if len(parts) != 2 or not TERMINAL_REF.fullmatch(parts[0]) or not (len(parts[1]) == 4 and parts[1].isdigit()):
            return self._fail("pay.terminal_bad")
        ref, last4 = parts[0].upper(), parts[1]
        amount = self._amount(amount_text, self.remaining)
        if amount is None:
            return self._fail("pay.amount_bad")
        if amount > self.remaining:
            return self._fail("pay.over_remaining", kind=kind_name("card"), amount=fmt(self.remaining))
        masked = f"**** {last4}"
        self.tenders.append(Tender(new_id(), "card", amount, masked=masked, terminal_ref=ref))
        self.message = translator.tr("pay.terminal_taken", amount=fmt(amount), ref=ref, masked=masked)
        self.changed()
        return True

    async def take_card(self, kind: TenderKind, instrument: str, amount_text: str = "") -> bool:
        """Charge a card or wallet through the provider for ``amount_text`` (empty: what remains).
        Offline a card is the standalone terminal's: ``instrument`` is its approval code and last four."""
        if kind not in PROVIDER:
            raise ValueError(f"{kind} does not go through the payment provider")
        if kind == "card" and not self._connection.state.online:
            return self.add_terminal_card(instrument, amount_text)
        if self.pending is not None:
            return self._fail("pay.pending_first", kind=kind_name(self.pending.kind))
        if why := self.unavailable(kind):
            return self._fail_text(why)
        amount = self._amount(amount_text, self.remaining)
        if amount is None:
            return self._fail("pay.amount_bad")
        if amount > self.remaining:
            return self._fail("pay.over_remaining", kind=kind_name(kind), amount=fmt(self.remaining))
        instrument = "".join(ch for ch in instrument if ch.isdigit())
        if not instrument:
            return self._fail("pay.need_instrument")
        # The id exists before the first attempt; a lost answer is asked about with this same id.
        self.pending = PendingCharge(new_id(), kind, amount, instrument)
        return await self._attempt(lambda p: self._terminal.charge(p.payment_id, p.kind, p.amount, p.instrument))

    async def check_pending(self) -> bool:
        """Ask the provider what became of the payment whose answer was lost."""
        if self.pending is None:
            return False
        return await self._attempt(lambda p: self._terminal.query(p.payment_id))

    async def _attempt(self, call: Any) -> bool:
        pending = self.pending
        assert pending is not None
        self.busy = True
        self.changed()
        try:
            charge: Charge = await call(pending)
        except Unreachable:
            return self._fail("pay.unknown", kind=kind_name(pending.kind), amount=fmt(pending.amount))
        except Refused as exc:
            self.pending = None
            return self._fail_text(exc.message)
        finally:
            self.busy = False
            self.changed()
        return self._outcome(pending, charge)

    def _outcome(self, pending: PendingCharge, charge: Charge) -> bool:
        name = kind_name(pending.kind)
        if charge.status == "approved":
            self.pending = None
            self.tenders.append(Tender(pending.payment_id, pending.kind, pending.amount, charge.token, charge.masked))
            self.message = translator.tr("pay.approved", kind=name, amount=fmt(pending.amount), masked=charge.masked)
            self.changed()
            return True
        if charge.status == "declined":
            self.pending = None
            reason = translator.tr(f"decline.{charge.decline_reason}")
            if reason.startswith("decline."):
                reason = charge.decline_reason or "-"
            return self._fail("pay.declined", kind=name, reason=reason)
        if charge.status == "failed":  # nothing was charged for this id; the next attempt starts afresh
            self.pending = None
            return self._fail("pay.failed", kind=name)
        return self._fail("pay.unknown", kind=name, amount=fmt(pending.amount))

    def remove(self, tender_id: uuid.UUID) -> None:
        tender = next((t for t in self.tenders if t.id == tender_id), None)
        if tender is None:
            return
        if tender.kind in PROVIDER and not tender.terminal_ref:  # a keyed terminal approval may be corrected
            self._fail("pay.keep_card", kind=kind_name(tender.kind))
            return
        self.tenders.remove(tender)
        self.message = ""
        self.changed()

    # --- settling ---------------------------------------------------------------------------------

    def _offline_problem(self) -> str:
        if not self.basket.all_from_codes:
            return translator.tr("why.not_from_codes")
        if not all(t.offline_ok for t in self.tenders):
            kinds = {t.kind for t in self.tenders if not t.offline_ok}
            return translator.tr("why.offline_provider" if kinds & set(PROVIDER) else "why.offline_member")
        return ""

    def _request(self) -> SettleRequest:
        if self.checkout_id is None:
            self.checkout_id = new_id()  # kept until settled: a retry after a lost answer is a replay
        return SettleRequest(
            checkout_id=self.checkout_id,
            tickets=tuple(self.basket.tickets),
            tenders=tuple(self.tenders),
            total=self.total,
            member_id=self.basket.member_id,
            shift_id=self.shift_id,
        )

    async def settle(self) -> Settled | None:
        if not self.complete:
            if self.pending is not None:
                self._fail("pay.pending_first", kind=kind_name(self.pending.kind))
            else:
                self._fail("pay.not_complete", amount=fmt(self.remaining))
            return None
        if not self._connection.state.online:
            if why := self._offline_problem():
                self._fail("pay.needs_network", reason=why)
                return None
            return self._done(self._checkouts.queue(self._request()))
        request = self._request()
        self.busy = True
        self.changed()
        try:
            return self._done(await self._checkouts.settle(request))
        except Refused as exc:
            # Nothing was written (one transaction); the next attempt is a new checkout. But "not now" says
            # nothing about an earlier attempt whose answer was lost: the retry keeps the id to find it.
            if exc.code not in TRY_AGAIN_LATER:
                self.checkout_id = None
            self._fail_text(exc.message)
            return None
        except Unreachable:
            if not self._offline_problem():
                return self._done(self._checkouts.queue(request))
            self._fail("error.network")
            return None
        finally:
            self.busy = False
            self.changed()

    def _done(self, settled: Settled) -> Settled:
        self.settled = settled
        self.message = translator.tr("pay.queued") if settled.queued else ""
        self.changed()
        return settled

    def next_customer(self) -> None:
        self.tenders.clear()
        self.pending = None
        self.checkout_id = None
        self.settled = None
        self.message = ""
        self.basket.clear()
        self.changed()

    # --- text -------------------------------------------------------------------------------------

    @property
    def rows(self) -> list[TenderRow]:
        rows = []
        for t in self.tenders:
            label = kind_name(t.kind) + (f" {t.masked}" if t.masked else "")
            rows.append(TenderRow(t.id, label, fmt(t.amount), t.kind not in PROVIDER or bool(t.terminal_ref)))
        return rows

    @property
    def remaining_text(self) -> str:
        if self.total and self.remaining == 0:
            return translator.tr("pay.paid_up")
        return translator.tr("pay.remaining", amount=fmt(self.remaining))

    @property
    def change_text(self) -> str:
        return translator.tr("pay.change", amount=fmt(self.change)) if self.change else ""

    def _fail(self, key: str, **values: Any) -> bool:
        return self._fail_text(translator.tr(key, **values))

    def _fail_text(self, text: str) -> bool:
        self.message = text
        self.changed()
        return False
