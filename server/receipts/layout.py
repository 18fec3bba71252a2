"""Receipt text for 58 mm (32 columns) and 80 mm (48 columns) printers.

Receipt printers use a fixed grid where a Chinese character (or any East Asian wide or fullwidth
character) takes two columns, so widths are measured in columns, not characters (``protocol.paper``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.paper import (  # the grid lives in protocol, shared with the till's printed reports
    COLUMNS_58MM,
    COLUMNS_80MM,
    center,
    char_width,
    display_width,
    fit,
    pad,
    two_columns,
    wrap,
    yuan,
)

__all__ = [  # the grid's helpers stay importable from here
    "COLUMNS_58MM",
    "COLUMNS_80MM",
    "TENDER_LABELS",
    "ReceiptDoc",
    "ReceiptLine",
    "ReceiptTender",
    "ReceiptTicketText",
    "center",
    "char_width",
    "display_width",
    "fit",
    "pad",
    "render_text",
    "two_columns",
    "wrap",
    "yuan",
]

TENDER_LABELS = {
    "cash": "现金 Cash",
    "card": "银行卡 Card",
    "wallet": "移动支付 Wallet",
    "stored_value": "储值 Stored value",
    "ecoin": "电子币 E-coin",
    "points": "积分 Points",
}


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    qty: int
    unit_price: int
    total: int


@dataclass(frozen=True)
class ReceiptTicketText:
    number: str
    counter: str
    lines: list[ReceiptLine]
    total: int


@dataclass(frozen=True)
class ReceiptTender:
    kind: str
    amount: int
    last4: str | None = None


@dataclass(frozen=True)
class ReceiptDoc:
    """Everything printed on a paid receipt. Amounts in fen."""

    store_name: str
    receipt_no: str
    at: str  # local time as printed, e.g. 2025-03-01 14:05
    cashier: str
    till: str
    tickets: list[ReceiptTicketText]
    total: int
    tenders: list[ReceiptTender]
    change: int = 0
    member: str | None = None  # masked, e.g. 138****5678
    points_earned: int | None = None
    qr: str | None = None  # the signed receipt QR text
    footer: list[str] = field(default_factory=lambda: ["谢谢惠顾 Thank you"])


def render_text(doc: ReceiptDoc, width: int = COLUMNS_80MM) -> list[str]:
    """The receipt as lines of at most ``width`` columns (the QR code is printed separately)."""
    rule = "-" * width
    out = [center(line, width) for line in wrap(doc.store_name, width)]
    out += [
        two_columns("小票 No.", doc.receipt_no, width),
        two_columns("时间 Time", doc.at, width),
        two_columns("收银 Cashier", f"{doc.cashier} / {doc.till}", width),
        rule,
    ]
    for ticket in doc.tickets:
        out += wrap(f"{ticket.counter} {ticket.number}", width)
        for line in ticket.lines:
            figures = f"{line.qty} x {yuan(line.unit_price)}"
            if width >= COLUMNS_80MM:
                name_room = width - 28
                names = wrap(line.name, name_room)
                out.append(pad(names[0], name_room) + two_columns(figures, yuan(line.total), 28))
                out += names[1:]
            else:
                out += wrap(line.name, width)
                out.append(two_columns("  " + figures, yuan(line.total), width))
        out.append(two_columns("  小计 Subtotal", yuan(ticket.total), width))
    out += [rule, two_columns("合计 Total", yuan(doc.total), width)]
    for tender in doc.tenders:
        label = TENDER_LABELS.get(tender.kind, tender.kind)
        if tender.last4:
            label += f" ****{tender.last4}"
        out.append(two_columns(label, yuan(tender.amount), width))
    if doc.change:
        out.append(two_columns("找零 Change", yuan(doc.change), width))
    if doc.member:
        out += [rule, two_columns("会员 Member", doc.member, width)]
        if doc.points_earned is not None:
            out.append(two_columns("本次积分 Points earned", str(doc.points_earned), width))
    out.append(rule)
    out += [center(line, width) for text in doc.footer for line in wrap(text, width)]
    return out
