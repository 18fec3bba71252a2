"""The full-screen ticket QR the customer photographs or shows at the till."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from client_common.i18n import translator
from client_common.money_text import fmt
from handheld_app.presenters.ports import LocalTicket

translator.add(
    {
        "en": {
            "issued.title": "Ticket {number}",
            "issued.total": "To pay {total}",
            "issued.hint": "Show this code at any till.",
            "issued.done": "Next customer",
            "issued.offline": (
                "Saved on this device; it is sent when the network is back. The code works at the till now."
            ),
        },
        "zh": {
            "issued.title": "小票 {number}",
            "issued.total": "应付 {total}",
            "issued.hint": "请到任意收银台出示此码付款。",
            "issued.done": "下一位顾客",
            "issued.offline": "已保存在本机，联网后自动发送；收银台现在即可扫码。",
        },
    }
)


@dataclass(frozen=True)
class IssuedView:
    qr: str
    title: str
    total: str
    hint: str
    ticket_id: uuid.UUID | None = None


def issued_view(ticket: LocalTicket, online: bool) -> IssuedView:
    t = translator
    return IssuedView(
        qr=ticket.qr,
        title=t.tr("issued.title", number=ticket.number),
        total=t.tr("issued.total", total=fmt(ticket.total)),
        hint=t.tr("issued.hint") if online else t.tr("issued.offline"),
        ticket_id=ticket.id,
    )
