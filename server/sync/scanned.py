"""A ticket a till scanned from the customer's QR: verify the handheld's signature, recover the command."""

from __future__ import annotations

import asyncpg
import msgspec

from protocol.errors import Codes
from protocol.qr import QrCodes, QrRefused, verify_ticket
from protocol.tickets import IssueTicket
from server.auth.guards import DeviceCaller
from server.errors import AppError

HANDHELD_KEYS = """
SELECT id, counter_id, public_key FROM device
WHERE store_id = $1 AND kind = 'handheld' AND state = 'active' AND public_key IS NOT NULL
"""

PRODUCT_TEXT = "SELECT id, sku, name_zh FROM product WHERE store_id = $1 AND id = ANY($2::uuid[])"


async def resolve(
    conn: asyncpg.Connection, uploader: DeviceCaller, cmd: IssueTicket
) -> tuple[DeviceCaller, IssueTicket]:
    """The issuing handheld and the exact command it signed, with SKUs and names from the catalog.

    Only active handhelds of the uploader's store are trusted signers. Refusals carry the QR codes of
    ``protocol.qr.QrCodes``.
    """
    assert cmd.scanned_qr is not None
    rows = await conn.fetch(HANDHELD_KEYS, uploader.store_id)
    keys = {r["id"]: bytes(r["public_key"]) for r in rows}
    try:
        scanned = verify_ticket(cmd.scanned_qr, keys.get)
    except QrRefused as exc:
        status = 403 if exc.code in (QrCodes.BAD_SIGNATURE, QrCodes.UNKNOWN_DEVICE) else 400
        raise AppError(exc.code, exc.body.message, status=status, details=exc.body.details) from None
    signed = scanned.command
    if signed.command_id != cmd.command_id:
        raise AppError(
            Codes.VALIDATION,
            "The command id is not the one the ticket QR carries; upload the command decoded from the QR.",
            details={"field": "command_id", "qr_command_id": str(signed.command_id)},
        )
    texts = {
        r["id"]: (r["sku"], r["name_zh"])
        for r in await conn.fetch(PRODUCT_TEXT, uploader.store_id, [ln.product_id for ln in signed.ticket.lines])
    }
    lines = [
        msgspec.structs.replace(ln, sku=texts[ln.product_id][0], name=texts[ln.product_id][1])
        if ln.product_id in texts
        else ln
        for ln in signed.ticket.lines
    ]
    issuer_row = next(r for r in rows if r["id"] == scanned.device_id)
    issuer = DeviceCaller(
        device_id=scanned.device_id, store_id=uploader.store_id, kind="handheld", counter_id=issuer_row["counter_id"]
    )
    ticket = msgspec.structs.replace(signed.ticket, lines=lines, device_id=scanned.device_id)
    return issuer, msgspec.structs.replace(signed, ticket=ticket, scanned_qr=cmd.scanned_qr)
