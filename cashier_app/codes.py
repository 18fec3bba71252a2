"""The till's own use of the signed codes: reading a customer's ticket QR (offline too) and signing
the receipt QR of a checkout kept in the outbox. Pure Python: no Kivy, no network."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from cashier_app.presenters.ports import BasketLine, BasketTicket, SettleRequest, UnknownIssuer
from protocol.qr import Names, PublicKeys, QrCodes, QrRefused, verify_ticket
from protocol.receipts import ReceiptPayload, ReceiptTicket, sign_receipt


class SignedTicketReader:
    """A ``TicketQrReader`` over ``protocol.qr``: the issuing handheld's key must have signed the code.

    ``public_keys`` comes from the key directory the till syncs; ``names`` from its catalog cache
    (the QR carries no product names); ``counter_of`` names the counter for the cashier's eyes.
    """

    def __init__(
        self,
        public_keys: PublicKeys,
        names: Names | None = None,
        counter_of: Callable[[uuid.UUID], str] | None = None,
    ) -> None:
        self._keys = public_keys
        self._names = names
        self._counter_of = counter_of

    def read(self, text: str) -> BasketTicket:
        try:
            scanned = verify_ticket(text, self._keys, self._names)
        except QrRefused as exc:
            if exc.code == QrCodes.UNKNOWN_DEVICE:
                raise UnknownIssuer(exc.body.message) from None
            raise ValueError(exc.body.message) from None
        t = scanned.command.ticket
        return BasketTicket(
            id=t.id,
            number=t.number,
            total=t.total,
            lines=tuple(
                BasketLine(
                    line.line_no,
                    line.name or line.sku or f"#{line.line_no}",
                    line.qty,
                    line.unit_price,
                    line.line_total,
                )
                for line in t.lines
            ),
            member_id=t.member_id,
            counter=self._counter_of(t.counter_id) if self._counter_of else "",
            qr=text.strip(),
        )


def offline_receipt_qr(
    request: SettleRequest, receipt_no: str, store_id: uuid.UUID, till_id: uuid.UUID, signing_key: bytes
) -> str:
    """The receipt QR for a checkout settled offline, signed with this till's key so counters can
    release the goods before the server has heard of it."""
    tendered = sum(t.amount for t in request.tenders)
    payload = ReceiptPayload(
        receipt_no=receipt_no,
        store_id=store_id,
        checkout_id=request.checkout_id,
        tickets=[ReceiptTicket(id=t.id, number=t.number, total=t.total) for t in request.tickets],
        total=request.total,
        paid=tendered,
        change=max(0, tendered - request.total),
        at=int(time.time()),
        signer=till_id,
    )
    return sign_receipt(payload, signing_key)
