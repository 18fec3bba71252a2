"""The paid receipt of a checkout, laid out for 80 mm and 58 mm printers (``server.receipts.layout``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from protocol.checkout import CheckoutResult
from protocol.tickets import Ticket
from server.members.service import mask_phone
from server.receipts.layout import (
    COLUMNS_58MM,
    COLUMNS_80MM,
    ReceiptDoc,
    ReceiptLine,
    ReceiptTender,
    ReceiptTicketText,
    render_text,
)

HEADER = """
SELECT s.code, s.name_zh, s.name_en, s.timezone,
       (SELECT name FROM staff WHERE id = $2) AS cashier,
       (SELECT label FROM device WHERE id = $3) AS till,
       (SELECT phone FROM member WHERE id = $4) AS phone
FROM store s WHERE s.id = $1
"""

COUNTERS = "SELECT id, name_zh FROM counter WHERE id = ANY($1::uuid[])"


def receipt_number(store_code: str, checkout_id: uuid.UUID) -> str:
    """Short and unique enough to read out: store code and the random tail of the checkout id."""
    return f"{store_code}-{checkout_id.hex[-10:].upper()}"


async def render(
    conn: asyncpg.Connection,
    result: CheckoutResult,
    paid: Sequence[Ticket],
    *,
    staff_id: uuid.UUID | None,
    device_id: uuid.UUID | None,
) -> CheckoutResult:
    """``result`` with its receipt number and the receipt text for both paper widths."""
    head = await conn.fetchrow(HEADER, result.store_id, staff_id, device_id, result.member_id)
    assert head is not None
    counters = {r["id"]: r["name_zh"] for r in await conn.fetch(COUNTERS, [t.counter_id for t in paid])}
    at = datetime.fromtimestamp(result.settled_at_ms / 1000, UTC).astimezone(ZoneInfo(head["timezone"]))
    by_id = {t.id: t for t in result.tenders}
    doc = ReceiptDoc(
        store_name=f"{head['name_zh']} {head['name_en']}",
        receipt_no=receipt_number(head["code"], result.id),
        at=at.strftime("%Y-%m-%d %H:%M"),
        cashier=head["cashier"] or ("一站式 One-stop" if result.mode == "one_stop" else "-"),
        till=head["till"] or "-",
        tickets=[
            ReceiptTicketText(
                number=t.number,
                counter=counters.get(t.counter_id, ""),
                lines=[ReceiptLine(ln.name, ln.qty, ln.unit_price, ln.line_total) for ln in t.lines],
                total=t.total,
            )
            for t in paid
        ],
        total=result.total,
        tenders=[ReceiptTender(t.kind, t.tendered, (by_id[t.id].masked or "")[-4:] or None) for t in result.tenders],
        change=result.change,
        member=mask_phone(head["phone"]) if head["phone"] else None,
        points_earned=result.points_earned if result.member_id else None,
    )
    return msgspec.structs.replace(
        result,
        receipt_no=doc.receipt_no,
        receipt_text="\n".join(render_text(doc, COLUMNS_80MM)),
        receipt_text_58="\n".join(render_text(doc, COLUMNS_58MM)),
    )
