"""``OneStop`` over ``POST /one-stop/checkouts``: the handheld settles its own ticket by card or wallet.

Open attempts (ids, kind, amount, last four digits; never the card number) are kept in the device
store, so an attempt whose outcome was unknown when the app stopped is checked again, not charged again.
"""

from __future__ import annotations

import uuid

import msgspec

from client_common.adapters.identity import Device
from client_common.api import NETWORK_UNAVAILABLE, ApiError
from handheld_app.presenters.ports import CardAttempt, CardOutcome
from protocol.checkout import CheckoutCodes, OneStopRequest, TenderRequest
from protocol.payments import PaymentCodes

PENDING = "one_stop_pending"


class ServerOneStop:
    def __init__(self, device: Device) -> None:
        self._device = device
        self._store = device.store

    async def pay(self, attempt: CardAttempt, token: str) -> CardOutcome:
        request = OneStopRequest(
            id=attempt.checkout_id,
            ticket_id=attempt.ticket_id,
            tender=TenderRequest(id=attempt.tender_id, kind=attempt.kind, amount=attempt.amount, token=token),
            expected_total=attempt.amount,
        )
        api = self._device.api()
        try:
            result = await api.one_stop(request)
        except ApiError as exc:
            return outcome_of(exc)
        finally:
            await api.aclose()
        tender = next((t for t in result.tenders if t.id == attempt.tender_id), None)
        return CardOutcome(state="paid", masked=(tender.masked if tender else None) or "", receipt_no=result.receipt_no)

    def _all(self) -> dict[str, object]:
        found: dict[str, object] = self._store.get(PENDING, {})
        return found

    def pending(self, ticket_id: uuid.UUID) -> CardAttempt | None:
        raw = self._all().get(str(ticket_id))
        return None if raw is None else msgspec.convert(raw, CardAttempt)

    def keep(self, attempt: CardAttempt) -> None:
        self._store.set(PENDING, {**self._all(), str(attempt.ticket_id): msgspec.to_builtins(attempt)})

    def forget(self, ticket_id: uuid.UUID) -> None:
        attempts = self._all()
        attempts.pop(str(ticket_id), None)
        self._store.set(PENDING, attempts)


def outcome_of(exc: ApiError) -> CardOutcome:
    """The server's refusal (or its silence) as the payment screen knows it."""
    body = exc.body
    if body.code == NETWORK_UNAVAILABLE:
        return CardOutcome(state="timeout" if body.details.get("sent") else "offline", message=body.message)
    if body.code == CheckoutCodes.PAYMENT_DECLINED:
        return CardOutcome(state="declined", reason=str(body.details.get("reason") or ""), message=body.message)
    # A server failure may have come after the charge: keep the attempt and ask again, never charge anew.
    if body.code in (CheckoutCodes.PAYMENT_UNKNOWN, PaymentCodes.PAYMENT_IN_PROGRESS) or exc.status >= 500:
        return CardOutcome(state="unknown", message=body.message)
    return CardOutcome(state="refused", reason=body.code, message=body.message)
