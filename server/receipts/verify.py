"""Checking a receipt QR on the server (a ticket released against the customer's receipt)."""

from __future__ import annotations

import uuid

import asyncpg

from protocol.payments import PaymentCodes
from protocol.receipts import ReceiptInvalid, ReceiptPayload, peek_receipt, verify_receipt
from server.errors import AppError

TILL_KEY = """
SELECT public_key FROM device
WHERE id = $1 AND store_id = $2 AND kind = 'till' AND state = 'active' AND public_key IS NOT NULL
"""


async def verify_receipt_for_store(conn: asyncpg.Connection, store_id: uuid.UUID, text: str) -> ReceiptPayload:
    """The payload of a receipt signed by an enrolled, unrevoked till of ``store_id``, or a refusal."""
    try:
        signer = peek_receipt(text).signer
        key = await conn.fetchval(TILL_KEY, signer, store_id)
        payload = verify_receipt(text, {signer: bytes(key)} if key is not None else {})
    except ReceiptInvalid as exc:
        raise AppError(PaymentCodes.RECEIPT_INVALID, exc.message, details={"reason": exc.reason}) from None
    if payload.store_id != store_id:
        raise AppError(
            PaymentCodes.RECEIPT_INVALID, "This receipt is from another store.", details={"reason": "other_store"}
        )
    return payload
