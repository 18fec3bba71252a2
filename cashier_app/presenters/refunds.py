"""Refunds and returns: find the sale by its receipt QR or number, choose lines and quantities, and get
a supervisor's approval when the amount is above the till's limit. Money goes back to the original
tenders (the server decides the split); refunds need the server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cashier_app.presenters.ports import Approval, RefundDone, RefundLine, Refunds, SoldCheckout, SoldLine, TillContext
from cashier_app.presenters.tenders import kind_name
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.money_text import fmt
from client_common.presenters.observable import Observable
from client_common.presenters.ports import SUPERVISOR_ROLES, Authenticator, Refused, Unreachable
from client_common.scan import clean_scan
from protocol.checkout import CheckoutCodes
from protocol.ids import new_id

TICKET_REFUNDED = CheckoutCodes.TICKET_REFUNDED

translator.add(
    {
        "en": {
            "refund.title": "Refunds and returns",
            "refund.hint": "Scan the receipt QR or type the receipt number",
            "refund.found": "Receipt {number} · {total}. Choose what comes back.",
            "refund.nothing_left": "Everything on receipt {number} has already been returned.",
            "refund.needs_server": "Refunds need the server; wait for the network.",
            "refund.choose": "Choose at least one line to return.",
            "refund.qty_bad": "Return between 1 and {max} of this line.",
            "refund.amount": "Refund {amount}",
            "refund.approval": "Above {limit}: a supervisor approves with staff number and PIN.",
            "refund.need_approval": "This refund is above {limit}; a supervisor must enter staff number and PIN.",
            "refund.not_supervisor": "{name} is not a supervisor; ask a supervisor to approve.",
            "refund.done": "Refunded {amount}: {to}.",
            "refund.points": "{points} points taken back.",
            "refund.on_terminal": "Give {amount} back to the card on the card terminal (approval {ref}).",
            "refund.e_coin": "{amount} e-coin taken back.",
            "refund.line": "{number} · {name} ×{qty}",
            "refund.submit": "Refund",
            "refund.state.partly_refunded": "partly refunded",
            "refund.state.refunded": "refunded",
            "refund.ticket_refunded": "That ticket was already refunded in full; nothing of it can come back again.",
        },
        "zh": {
            "refund.title": "退款退货",
            "refund.hint": "扫收银凭证二维码或输入凭证号",
            "refund.found": "凭证 {number} · {total}。请选择退回的商品。",
            "refund.nothing_left": "凭证 {number} 的商品已全部退回。",
            "refund.needs_server": "退款需要连接服务器；请等待网络恢复。",
            "refund.choose": "请至少选择一行退货。",
            "refund.qty_bad": "该行可退 1 到 {max} 件。",
            "refund.amount": "退款 {amount}",
            "refund.approval": "超过 {limit} 需主管输入工号和密码批准。",
            "refund.need_approval": "本次退款超过 {limit}；需主管输入工号和密码。",
            "refund.not_supervisor": "{name} 不是主管；请主管批准。",
            "refund.done": "已退款 {amount}：{to}。",
            "refund.points": "扣回积分 {points}。",
            "refund.on_terminal": "请在刷卡机上向原卡退回 {amount}（原授权码 {ref}）。",
            "refund.e_coin": "扣回电子币 {amount}。",
            "refund.line": "{number} · {name} ×{qty}",
            "refund.submit": "退款",
            "refund.state.partly_refunded": "部分退款",
            "refund.state.refunded": "已退款",
            "refund.ticket_refunded": "该小票已全额退款，不能再退。",
        },
    }
)


def line_amount(line: SoldLine, qty: int) -> int:
    """What returning ``qty`` units of a line is worth: its share of the line total, exact in fen.

    The last units of a line carry the remainder, so returning a line in parts adds up to its total.
    """
    already = line.qty - line.refundable_qty
    before = line.line_total * already // line.qty
    after = line.line_total * (already + qty) // line.qty
    return after - before


def state_text(ticket_state: str) -> str:
    """`` · partly refunded`` / `` · refunded`` after a line of such a ticket; nothing for a paid one."""
    if ticket_state not in ("partly_refunded", "refunded"):
        return ""
    return " · " + translator.tr(f"refund.state.{ticket_state}")


def returned(sold: SoldCheckout, chosen: dict[int, int]) -> SoldCheckout:
    """The sale after ``chosen`` (line index -> units) came back: fewer units left, and each touched
    ticket partly refunded or refunded, as the server now has it."""
    lines = [replace(line, refundable_qty=line.refundable_qty - chosen.get(i, 0)) for i, line in enumerate(sold.lines)]
    touched = {sold.lines[i].ticket_id for i in chosen}
    for tid in touched:
        left = [line.refundable_qty for line in lines if line.ticket_id == tid]
        state = "refunded" if not any(left) else "partly_refunded"
        lines = [replace(line, ticket_state=state) if line.ticket_id == tid else line for line in lines]
    return replace(sold, lines=tuple(lines))


@dataclass(frozen=True)
class RefundRow:
    index: int
    text: str
    chosen_qty: int
    max_qty: int
    amount: str


class RefundPresenter(Observable):
    def __init__(
        self,
        refunds: Refunds,
        auth: Authenticator,
        connection: ConnectionFeed,
        till: TillContext | Callable[[], TillContext],
    ) -> None:
        super().__init__()
        self._refunds = refunds
        self._auth = auth
        self._connection = connection
        self._rules = till if callable(till) else (lambda: till)
        self.sold: SoldCheckout | None = None
        self.chosen: dict[int, int] = {}  # line index -> qty
        self.done: RefundDone | None = None
        self.message = ""
        self.busy = False
        self._refund_id: uuid.UUID | None = None

    @property
    def _till(self) -> TillContext:
        """The till's rules as the server last gave them (the refund limit changes on reconnect)."""
        return self._rules()

    @property
    def unavailable(self) -> str:
        return "" if self._connection.state.online else translator.tr("refund.needs_server")

    async def find(self, text: str) -> bool:
        code = clean_scan(text)
        if not code:
            return False
        if why := self.unavailable:
            return self._say_text(why)
        try:
            sold = await self._refunds.find(code)
        except Refused as exc:
            return self._say_text(exc.message)
        except Unreachable:
            return self._say("error.network")
        self.sold, self.chosen, self.done, self._refund_id = sold, {}, None, None
        if not any(line.refundable_qty for line in sold.lines):
            return self._say("refund.nothing_left", number=sold.receipt_no)
        return self._say("refund.found", ok=True, number=sold.receipt_no, total=fmt(sold.total))

    # --- choosing ---------------------------------------------------------------------------------

    def toggle(self, index: int) -> None:
        """Tap a line: return all of what is left of it, or tap again to keep it."""
        assert self.sold is not None
        line = self.sold.lines[index]
        if index in self.chosen:
            del self.chosen[index]
        elif line.refundable_qty:
            self.chosen[index] = line.refundable_qty
        self._edited()

    def set_qty(self, index: int, qty_text: str) -> bool:
        assert self.sold is not None
        line = self.sold.lines[index]
        text = qty_text.strip()
        if not text.isdigit() or not 0 <= int(text) <= line.refundable_qty:
            return self._say("refund.qty_bad", max=line.refundable_qty)
        if int(text) == 0:
            self.chosen.pop(index, None)
        else:
            self.chosen[index] = int(text)
        self._edited()
        return True

    def _edited(self) -> None:
        self._refund_id = None  # a different choice is a different refund
        self.message = ""
        self.changed()

    @property
    def amount(self) -> int:
        if self.sold is None:
            return 0
        return sum(line_amount(self.sold.lines[i], qty) for i, qty in self.chosen.items())

    @property
    def needs_approval(self) -> bool:
        return self.amount > self._till.refund_approval_limit

    # --- refunding --------------------------------------------------------------------------------

    async def refund(self, reason: str = "", supervisor_code: str = "", pin: str = "") -> RefundDone | None:
        if why := self.unavailable:
            self._say_text(why)
            return None
        if self.sold is None or not self.chosen:
            self._say("refund.choose")
            return None
        approval = None
        if self.needs_approval:
            approval = await self._approval(supervisor_code, pin)
            if approval is None:
                return None
        if self._refund_id is None:
            self._refund_id = new_id()  # a retry after a lost answer is a replay of this refund
        lines = tuple(
            RefundLine(self.sold.lines[i].ticket_id, self.sold.lines[i].line_no, qty)
            for i, qty in sorted(self.chosen.items())
        )
        self.busy = True
        self.changed()
        try:
            done = await self._refunds.refund(self._refund_id, self.sold.checkout_id, lines, reason, approval)
        except Refused as exc:
            self._refund_id = None
            if exc.code == TICKET_REFUNDED:
                self._say("refund.ticket_refunded")
            else:
                self._say_text(exc.message)
            return None
        except Unreachable:
            self._say("error.network")
            return None
        finally:
            self.busy = False
            self.changed()
        self.sold = returned(self.sold, self.chosen)
        self.done, self.chosen, self._refund_id = done, {}, None
        to = ", ".join(f"{kind_name(kind)} {fmt(amount)}" for kind, amount in done.to)
        text = translator.tr("refund.done", amount=fmt(done.amount), to=to)
        if done.points_reversed:
            text += " " + translator.tr("refund.points", points=done.points_reversed)
        for ref, amount in done.on_terminal:  # the card was charged on the standalone terminal: refund it there
            text += " " + translator.tr("refund.on_terminal", amount=fmt(amount), ref=ref)
        if done.e_coin_reversed:
            text += " " + translator.tr("refund.e_coin", amount=fmt(done.e_coin_reversed))
        self._say_text(text, ok=True)
        return done

    async def _approval(self, code: str, pin: str) -> Approval | None:
        code, pin = code.strip().upper(), pin.strip()
        if not code or not pin:
            self._say("refund.need_approval", limit=fmt(self._till.refund_approval_limit))
            return None
        try:
            who = await self._auth.check_supervisor(code, pin)
        except Refused as exc:
            self._say_text(exc.message)
            return None
        except Unreachable:
            self._say("error.network")
            return None
        if who.role not in SUPERVISOR_ROLES:
            self._say("refund.not_supervisor", name=who.name)
            return None
        return Approval(staff_code=code, pin=pin)

    # --- text -------------------------------------------------------------------------------------

    @property
    def rows(self) -> list[RefundRow]:
        if self.sold is None:
            return []
        return [
            RefundRow(
                index=i,
                text=translator.tr("refund.line", number=line.ticket_number, name=line.name, qty=line.qty)
                + state_text(line.ticket_state),
                chosen_qty=self.chosen.get(i, 0),
                max_qty=line.refundable_qty,
                amount=fmt(line_amount(line, self.chosen[i])) if i in self.chosen else fmt(line.line_total),
            )
            for i, line in enumerate(self.sold.lines)
        ]

    @property
    def amount_text(self) -> str:
        return translator.tr("refund.amount", amount=fmt(self.amount))

    @property
    def approval_text(self) -> str:
        return translator.tr("refund.approval", limit=fmt(self._till.refund_approval_limit))

    def _say(self, key: str, ok: bool = False, **values: Any) -> bool:
        return self._say_text(translator.tr(key, **values), ok)

    def _say_text(self, text: str, ok: bool = False) -> bool:
        self.message = text
        self.changed()
        return ok
