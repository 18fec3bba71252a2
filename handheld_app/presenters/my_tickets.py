"""My tickets with live status, and what can be done with each: release goods, void, attach a member.

Goods are released only against a *paid* ticket: paid as the server reported it live, or paid as a
customer's signed receipt QR proves when the handheld is offline. A ticket partly refunded before its
goods left releases the rest; a refunded one releases nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from client_common.i18n import translator
from client_common.money_text import fmt
from client_common.presenters.observable import Observable
from client_common.presenters.ports import StaffSession
from client_common.scan import clean_scan
from handheld_app.presenters.ports import LocalTicket, ReceiptVerifier, TicketBook

translator.add(
    {
        "en": {
            "tickets.title": "My tickets",
            "tickets.empty": "No tickets yet.",
            "tickets.release": "Release goods",
            "tickets.void": "Void",
            "tickets.scan_receipt": "Scan receipt",
            "tickets.receipt_hint": "Scan the customer's paid receipt",
            "state.issued": "Issued",
            "state.paid": "Paid",
            "state.released": "Released",
            "state.voided": "Voided",
            "state.expired": "Expired",
            "state.partly_refunded": "Partly refunded",
            "state.refunded": "Refunded",
            "tickets.unsent": "not sent yet",
            "state.refused": "Refused",
            "tickets.refused": "refused by the server: {reason}",
            "tickets.released": "Goods released for {number}.",
            "tickets.voided": "{number} voided.",
            "tickets.not_paid": "{number} is not paid yet; goods are released only after payment.",
            "tickets.cannot_release": "{number} is {state}; its goods cannot be released (again).",
            "tickets.cannot_void": "{number} is {state}; only an issued ticket can be voided here.",
            "tickets.receipt_bad": "This receipt cannot be trusted: {reason}",
            "tickets.receipt_none": "This receipt pays none of this handheld's open tickets.",
            "tickets.receipt_released": "Goods released for {numbers}.",
        },
        "zh": {
            "tickets.title": "我的小票",
            "tickets.empty": "还没有小票。",
            "tickets.release": "发货",
            "tickets.void": "作废",
            "tickets.scan_receipt": "扫付款凭证",
            "tickets.receipt_hint": "扫描顾客的付款凭证",
            "state.issued": "已开单",
            "state.paid": "已付款",
            "state.released": "已发货",
            "state.voided": "已作废",
            "state.expired": "已过期",
            "state.partly_refunded": "部分退款",
            "state.refunded": "已退款",
            "tickets.unsent": "尚未发送",
            "state.refused": "被拒绝",
            "tickets.refused": "服务器拒绝：{reason}",
            "tickets.released": "{number} 已发货。",
            "tickets.voided": "{number} 已作废。",
            "tickets.not_paid": "{number} 尚未付款；付款后才能发货。",
            "tickets.cannot_release": "{number} 状态为{state}；不能（再次）发货。",
            "tickets.cannot_void": "{number} 状态为{state}；只有已开单的小票可在此作废。",
            "tickets.receipt_bad": "该凭证无法验证：{reason}",
            "tickets.receipt_none": "该凭证没有支付本机的任何未完成小票。",
            "tickets.receipt_released": "已发货：{numbers}。",
        },
    }
)


def releasable(t: LocalTicket) -> bool:
    """Paid and the goods still at the counter; a ticket partly refunded before release keeps the rest."""
    return t.state in ("paid", "partly_refunded") and not t.released


@dataclass(frozen=True)
class TicketRow:
    ticket: LocalTicket
    title: str
    detail: str
    state: str
    can_release: bool
    can_void: bool
    can_pay: bool = False  # one-stop card payment on the handheld
    state_key: str = ""  # issued, paid, ... or refused: picks the colour


class MyTickets(Observable):
    def __init__(self, book: TicketBook, verifier: ReceiptVerifier) -> None:
        super().__init__()
        self._book = book
        self._verifier = verifier
        self.staff: StaffSession | None = None
        self.rows: list[TicketRow] = []
        self.message = ""
        book.on_change(self.refresh)

    def refresh(self) -> None:
        self.rows = [self._row(t) for t in self._book.tickets(self.staff.staff_id if self.staff else None)]
        self.changed()

    def _row(self, t: LocalTicket) -> TicketRow:
        tr = translator.tr
        detail = f"{fmt(t.total)} · " + tr("ticket.items", count=t.item_count)
        if t.member_name:
            detail += f" · {t.member_name}"
        if t.refused:
            # The server refused this ticket (or a change to it): say so with its reason, not "not sent".
            detail += " · " + tr("tickets.refused", reason=t.refused)
        elif not t.synced:
            detail += " · " + tr("tickets.unsent")
        key = "refused" if t.refused else t.state
        return TicketRow(
            ticket=t,
            title=t.number,
            detail=detail,
            state=tr(f"state.{key}"),
            can_release=releasable(t),
            can_void=t.state == "issued" and not t.refused,
            can_pay=t.state == "issued" and not t.refused,
            state_key=key,
        )

    def _find(self, ticket_id: uuid.UUID) -> LocalTicket | None:
        return next((r.ticket for r in self.rows if r.ticket.id == ticket_id), None)

    def release(self, ticket_id: uuid.UUID) -> bool:
        t = self._find(ticket_id)
        if t is None:
            return False
        if t.state == "issued":
            return self._say("tickets.not_paid", number=t.number)
        if not releasable(t):
            state = translator.tr(f"state.{t.state}")
            return self._say("tickets.cannot_release", number=t.number, state=state)
        self._book.release(ticket_id)
        self.refresh()
        return self._say("tickets.released", ok=True, number=t.number)

    def void(self, ticket_id: uuid.UUID, reason: str = "") -> bool:
        t = self._find(ticket_id)
        if t is None:
            return False
        if t.state != "issued":
            return self._say("tickets.cannot_void", number=t.number, state=translator.tr(f"state.{t.state}"))
        self._book.void(ticket_id, reason)
        self.refresh()
        return self._say("tickets.voided", ok=True, number=t.number)

    def release_by_receipt(self, scanned: str) -> list[LocalTicket]:
        """Release every open ticket of this device the customer's signed receipt pays."""
        text = clean_scan(scanned)
        try:
            receipt = self._verifier.verify(text)
        except ValueError as exc:
            self._say("tickets.receipt_bad", reason=str(exc))
            return []
        self.refresh()
        released = [
            r.ticket
            for r in self.rows
            if r.ticket.id in receipt.ticket_ids and (r.ticket.state == "issued" or releasable(r.ticket))
        ]
        if not released:
            self._say("tickets.receipt_none")
            return []
        for t in released:
            self._book.release(t.id, receipt_qr=text)
        self.refresh()
        self._say("tickets.receipt_released", numbers=", ".join(t.number for t in released))
        return released

    def _say(self, key: str, ok: bool = False, **values: Any) -> bool:
        self.message = translator.tr(key, **values)
        self.changed()
        return ok
