"""Release goods offline against the customer's paid receipt QR, signed by a till of this store."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from handheld_app.presenters.ports import PaidReceipt
from protocol.receipts import ReceiptInvalid, verify_receipt


class SignedReceipts:
    """``ReceiptVerifier`` over ``protocol.receipts``: the till's Ed25519 signature and this store."""

    def __init__(
        self, store_id: uuid.UUID, public_key_of: Mapping[uuid.UUID, bytes] | Callable[[uuid.UUID], bytes | None]
    ) -> None:
        self._store_id = store_id
        self._keys = public_key_of

    def verify(self, receipt_qr: str) -> PaidReceipt:
        try:
            payload = verify_receipt(receipt_qr, self._keys)
        except ReceiptInvalid as exc:
            raise ValueError(exc.message) from None
        if payload.store_id != self._store_id:
            raise ValueError("This receipt is from another store; do not release.")
        return PaidReceipt(checkout_id=payload.checkout_id, ticket_ids=frozenset(t.id for t in payload.tickets))
