"""The receipt on screen: what was paid, how, the change, and the signed QR the counters check."""

from __future__ import annotations

from dataclasses import dataclass

from cashier_app.presenters.ports import Settled
from cashier_app.presenters.tenders import kind_name
from client_common.i18n import translator
from client_common.money_text import fmt

translator.add(
    {
        "en": {
            "receipt.title": "Receipt {number}",
            "receipt.total": "Total {amount}",
            "receipt.change": "Change {amount}",
            "receipt.tickets": "Tickets: {numbers}",
            "receipt.points": "Points earned: {points}",
            "receipt.hint": "The customer shows this code at each counter to collect the goods.",
            "receipt.queued": "Offline: kept on this till and sent when the network is back.",
            "receipt.next": "Next customer",
        },
        "zh": {
            "receipt.title": "收银凭证 {number}",
            "receipt.total": "合计 {amount}",
            "receipt.change": "找零 {amount}",
            "receipt.tickets": "小票：{numbers}",
            "receipt.points": "本次积分：{points}",
            "receipt.hint": "顾客凭此码到各专柜取货。",
            "receipt.queued": "离线：已保存在本机，联网后自动上传。",
            "receipt.next": "下一位顾客",
        },
    }
)


@dataclass(frozen=True)
class ReceiptView:
    qr: str
    title: str
    total: str
    change: str
    tenders: tuple[tuple[str, str], ...]  # (tender, amount)
    tickets: str
    note: str


def receipt_view(settled: Settled) -> ReceiptView:
    tr = translator.tr
    notes = []
    if settled.points_earned:
        notes.append(tr("receipt.points", points=settled.points_earned))
    notes.append(tr("receipt.queued") if settled.queued else tr("receipt.hint"))
    return ReceiptView(
        qr=settled.receipt_qr,
        title=tr("receipt.title", number=settled.receipt_no),
        total=tr("receipt.total", amount=fmt(settled.total)),
        change=tr("receipt.change", amount=fmt(settled.change)),
        tenders=tuple(
            (kind_name(t.kind) + (f" {t.masked}" if t.masked else ""), fmt(t.amount)) for t in settled.tenders
        ),
        tickets=tr("receipt.tickets", numbers=", ".join(settled.ticket_numbers)),
        note="\n".join(notes),
    )
