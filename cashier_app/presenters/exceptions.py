"""The store's exception queue at the till, for a supervisor: conflicts the server could not settle (cash
taken offline for a ticket voided or paid at another till meanwhile, a void of a ticket the customer
paid), each with the money to give back. A supervisor opens it with staff number and PIN, makes the fix
(e.g. refunds the cash from the drawer) and resolves it with a note. It needs the server.

Also the till's own words for a replayed offline checkout the server refused and recorded as an
exception (``recorded_text``), shown with the outbox's refused checkouts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from cashier_app.presenters.ports import Approval
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.money_text import fmt
from client_common.presenters.observable import Observable
from client_common.presenters.ports import Refused, Unreachable
from protocol.exceptions import ExceptionCodes, StoreException

translator.add(
    {
        "en": {
            "exc.title": "Exception queue",
            "exc.hint": "A supervisor opens the queue with staff number and PIN.",
            "exc.open": "Open",
            "exc.needs_server": "The exception queue needs the server; wait for the network.",
            "exc.need_approval": "Enter a supervisor's staff number and PIN.",
            "exc.empty": "Nothing to put right: the queue is empty.",
            "exc.count": "{count} to put right.",
            "exc.row": "No. {number} · {kind}",
            "exc.where": "{where} · tickets {tickets}",
            "exc.receipt": "{where} · customer's receipt {receipt}",
            "exc.note_hint": "What was done (e.g. refunded the cash)",
            "exc.note_needed": "Say what was done before resolving.",
            "exc.resolve": "Resolve",
            "exc.resolved": "Exception {number} resolved.",
            "exc.recorded": "{kind} · recorded for the manager as exception {number}: {fix}",
            "exc.refund_cash": "give {amount} in cash back to the customer",
            "exc.refund_on_terminal": "give {amount} back to the card on the card terminal",
            "exc.no_money": "no money to give back; check with the counter",
            "exc.kind.paid_elsewhere": "Already paid at another till",
            "exc.kind.ticket_voided": "Ticket voided by the counter",
            "exc.kind.ticket_expired": "Ticket expired",
            "exc.kind.ticket_not_open": "Ticket can no longer be paid",
            "exc.kind.total_changed": "Ticket total changed",
            "exc.kind.member_changed": "Ticket belongs to another member",
            "exc.kind.unknown_ticket": "Ticket unknown to the server",
            "exc.kind.void_after_payment": "Voided after the customer paid",
            "exc.kind.attach_after_payment": "Member attached after the customer paid",
        },
        "zh": {
            "exc.title": "异常队列",
            "exc.hint": "主管输入工号和密码后打开异常队列。",
            "exc.open": "打开",
            "exc.needs_server": "异常队列需要连接服务器；请等待网络恢复。",
            "exc.need_approval": "请输入主管工号和密码。",
            "exc.empty": "没有待处理的异常。",
            "exc.count": "待处理 {count} 条。",
            "exc.row": "第 {number} 号 · {kind}",
            "exc.where": "{where} · 小票 {tickets}",
            "exc.receipt": "{where} · 顾客收据 {receipt}",
            "exc.note_hint": "处理说明（如：已退还现金）",
            "exc.note_needed": "请先填写处理说明。",
            "exc.resolve": "标记已处理",
            "exc.resolved": "异常 {number} 已处理。",
            "exc.recorded": "{kind} · 已记录为第 {number} 号异常，交店长处理：{fix}",
            "exc.refund_cash": "退还顾客现金 {amount}",
            "exc.refund_on_terminal": "在刷卡机上向原卡退回 {amount}",
            "exc.no_money": "无需退款；请与专柜核实",
            "exc.kind.paid_elsewhere": "已在其他收银台付款",
            "exc.kind.ticket_voided": "小票已被专柜作废",
            "exc.kind.ticket_expired": "小票已过期",
            "exc.kind.ticket_not_open": "小票已无法付款",
            "exc.kind.total_changed": "小票金额已变化",
            "exc.kind.member_changed": "小票已属于其他会员",
            "exc.kind.unknown_ticket": "服务器上没有这张小票",
            "exc.kind.void_after_payment": "顾客付款后被作废",
            "exc.kind.attach_after_payment": "顾客付款后才关联会员",
        },
    }
)


class ExceptionQueue(Protocol):
    async def open_exceptions(self, approval: Approval) -> list[StoreException]:
        """The store's open exceptions, newest first; refused without a supervisor's valid approval."""
        ...

    async def resolve(self, exception_id: uuid.UUID, note: str, approval: Approval) -> StoreException:
        """Mark one resolved; ``Refused`` with ``exception_already_resolved`` when someone was quicker."""
        ...


def kind_text(kind: str) -> str:
    key = f"exc.kind.{kind}"
    text = translator.tr(key)
    return kind.replace("_", " ") if text == key else text


def fix_sentence(e: StoreException) -> str:
    """The fix in the till's language, from the structured movements (amounts as the till shows them)."""
    parts = [
        translator.tr(f"exc.{m.action}", amount=fmt(m.amount, e.currency))
        if m.action in ("refund_cash", "refund_on_terminal")
        else f"{m.action.replace('_', ' ')} {fmt(m.amount, e.currency)}"
        for m in e.fix
    ]
    return "; ".join(parts) if parts else translator.tr("exc.no_money")


def recorded_exception(details: dict[str, Any]) -> StoreException | None:
    """The exception a refusal's details carry (a replayed offline checkout refused for a conflict)."""
    raw = details.get("exception")
    if raw is None:
        return None
    try:
        return msgspec.convert(raw, StoreException)
    except msgspec.ValidationError:
        return None


def recorded_text(refusal: Refused) -> str:
    """What the till says about a refused offline checkout: the server's sentence, or, when the server
    recorded it as an exception, which one and the refund to make, in the till's language."""
    e = recorded_exception(refusal.details)
    if e is None:
        return refusal.message
    return translator.tr("exc.recorded", kind=kind_text(e.kind), number=e.number, fix=fix_sentence(e))


@dataclass(frozen=True)
class ExceptionRow:
    index: int
    title: str  # "No. 7 · Ticket voided by the counter"
    where: str  # "Till 1 / 张伟 · tickets SH01-... · customer's receipt SH01-T...-000003"
    fix: str  # what to do, with the amount
    to_refund: int


class ExceptionsPresenter(Observable):
    def __init__(self, queue: ExceptionQueue, connection: ConnectionFeed) -> None:
        super().__init__()
        self._queue = queue
        self._connection = connection
        self._approval: Approval | None = None
        self.items: list[StoreException] = []
        self.message = ""
        self.busy = False

    @property
    def unavailable(self) -> str:
        return "" if self._connection.state.online else translator.tr("exc.needs_server")

    @property
    def unlocked(self) -> bool:
        return self._approval is not None

    async def unlock(self, staff_code: str, pin: str) -> bool:
        """Open the queue with a supervisor's staff number and PIN (kept only while the screen is open)."""
        code, pin = staff_code.strip().upper(), pin.strip()
        if not code or not pin:
            return self._say(translator.tr("exc.need_approval"))
        return await self._load(Approval(staff_code=code, pin=pin))

    async def refresh(self) -> bool:
        if self._approval is None:
            return self._say(translator.tr("exc.need_approval"))
        return await self._load(self._approval)

    async def _load(self, approval: Approval) -> bool:
        if why := self.unavailable:
            return self._say(why)
        try:
            items = await self._queue.open_exceptions(approval)
        except Refused as exc:
            self._approval, self.items = None, []
            return self._say(exc.message)
        except Unreachable:
            return self._say(translator.tr("error.network"))
        self._approval, self.items = approval, items
        text = translator.tr("exc.count", count=len(items)) if items else translator.tr("exc.empty")
        return self._say(text, ok=True)

    async def resolve(self, index: int, note: str) -> bool:
        """Resolve the exception shown at ``index`` with what was done; the list is read again after."""
        if self._approval is None:
            return self._say(translator.tr("exc.need_approval"))
        if why := self.unavailable:
            return self._say(why)
        if not note.strip():
            return self._say(translator.tr("exc.note_needed"))
        e = self.items[index]
        self.busy = True
        self.changed()
        try:
            done = await self._queue.resolve(e.id, note.strip(), self._approval)
        except Refused as exc:
            if exc.code == ExceptionCodes.ALREADY_RESOLVED:  # another supervisor was quicker: show the rest
                await self._load(self._approval)
            return self._say(exc.message)
        except Unreachable:
            return self._say(translator.tr("error.network"))
        finally:
            self.busy = False
            self.changed()
        await self._load(self._approval)
        return self._say(translator.tr("exc.resolved", number=done.number), ok=True)

    def lock(self) -> None:
        """Leaving the screen: forget the supervisor's PIN and the list."""
        self._approval, self.items, self.message = None, [], ""
        self.changed()

    @property
    def rows(self) -> list[ExceptionRow]:
        out = []
        for i, e in enumerate(self.items):
            where = " / ".join(x for x in (e.device_label, e.staff_name) if x)
            tickets = ", ".join(n for n in e.ticket_numbers if n) or "—"
            place = translator.tr("exc.where", where=where or "—", tickets=tickets)
            if e.offline_receipt_no:  # the number on the customer's paper receipt, to match the refund
                place = translator.tr("exc.receipt", where=place, receipt=e.offline_receipt_no)
            out.append(
                ExceptionRow(
                    index=i,
                    title=translator.tr("exc.row", number=e.number, kind=kind_text(e.kind)),
                    where=place,
                    fix=fix_sentence(e),
                    to_refund=e.to_refund,
                )
            )
        return out

    def _say(self, text: str, ok: bool = False) -> bool:
        self.message = text
        self.changed()
        return ok
