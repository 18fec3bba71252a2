"""What the handheld's presenters need from the local store, the QR signer and the server.

``handheld_app.wiring`` adapts the real client pieces to these; tests use plain in-memory fakes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from protocol.tickets import TicketDraft, TicketState


@dataclass(frozen=True)
class CatalogItem:
    product_id: uuid.UUID
    sku: str
    barcode: str
    name_zh: str
    name_en: str
    list_price: int  # fen
    promo_price: int | None = None  # fen, when a promotion applies
    counter_id: uuid.UUID | None = None

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en


class Catalog(Protocol):
    """The catalog cache in the local store; works offline."""

    def by_code(self, code: str) -> CatalogItem | None:
        """Exact SKU or barcode (what a scanner types)."""
        ...

    def search(self, text: str, limit: int) -> list[CatalogItem]:
        """SKU, barcode or name in Chinese or English containing ``text``."""
        ...


@dataclass(frozen=True)
class MemberCard:
    member_id: uuid.UUID
    name: str  # already masked by the server, e.g. 王*
    phone_masked: str
    tier: str
    points: int


class Members(Protocol):
    async def find(self, code_or_phone: str) -> MemberCard | None:
        """The member whose card/code or phone this is; needs the server."""
        ...


@dataclass(frozen=True)
class LocalTicket:
    id: uuid.UUID
    number: str
    total: int
    state: TicketState
    item_count: int
    member_name: str = ""
    synced: bool = False  # the server has acknowledged the issue
    issued_at_ms: int = 0
    qr: str = ""
    refused_code: str = ""  # the server refused a command about this ticket (dead letter) ...
    refused: str = ""  # ... and said why
    released: bool = False  # the goods were handed over (also when the ticket was refunded afterwards)


@dataclass(frozen=True)
class DeviceContext:
    """Where this handheld sells: fixed at enrollment."""

    device_id: uuid.UUID
    store_id: uuid.UUID
    counter_id: uuid.UUID


class TicketBook(Protocol):
    """The device's tickets and outbox. Every write is durable before it returns."""

    def next_number(self) -> str:
        """The next human ticket number, store-counter-device-sequence."""
        ...

    def issue(self, draft: TicketDraft) -> LocalTicket:
        """Save the ticket and its IssueTicket command in one transaction; the result carries the signed QR."""
        ...

    def void(self, ticket_id: uuid.UUID, reason: str) -> None: ...

    def release(self, ticket_id: uuid.UUID, receipt_qr: str | None = None) -> None: ...

    def attach_member(self, ticket_id: uuid.UUID, member_id: uuid.UUID) -> None: ...

    def tickets(self, staff_id: uuid.UUID | None) -> list[LocalTicket]:
        """Newest first; ``staff_id`` None means every ticket of this device."""
        ...

    def ticket(self, ticket_id: uuid.UUID) -> LocalTicket | None:
        """One ticket of this device."""
        ...

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever a ticket changes (server events included)."""
        ...


@dataclass(frozen=True)
class PaidReceipt:
    checkout_id: uuid.UUID
    ticket_ids: frozenset[uuid.UUID]


class ReceiptVerifier(Protocol):
    def verify(self, receipt_qr: str) -> PaidReceipt:
        """Check the till's signature on a customer's receipt QR; ``ValueError`` with a reason when it fails."""
        ...


PayKind = Literal["card", "wallet"]


@dataclass(frozen=True)
class CardAttempt:
    """One one-stop payment of a ticket. Its ids are made before the first send and kept (on disk) until
    the outcome is known, so asking again can never charge the customer a second time."""

    checkout_id: uuid.UUID
    tender_id: uuid.UUID  # the payment id the provider is asked with
    ticket_id: uuid.UUID
    kind: PayKind
    amount: int  # fen
    last4: str


OutcomeState = Literal["paid", "declined", "unknown", "timeout", "offline", "refused"]


@dataclass(frozen=True)
class CardOutcome:
    """``paid``; ``declined`` (``reason`` is the acquirer's, e.g. insufficient_funds); ``unknown`` (the
    acquirer has not answered yet); ``timeout`` / ``offline`` (no answer from the server: the charge may
    or may not have happened); ``refused`` (the server refused the checkout, ``message`` says why)."""

    state: OutcomeState
    message: str = ""
    reason: str = ""
    masked: str = ""
    receipt_no: str = ""


class OneStop(Protocol):
    """One-stop payment through the server's card terminal interface, and the attempts still open."""

    async def pay(self, attempt: CardAttempt, token: str) -> CardOutcome:
        """Send the attempt (the same ids every time it is sent); ``token`` is the card number or the
        wallet code, kept only in memory."""
        ...

    def pending(self, ticket_id: uuid.UUID) -> CardAttempt | None:
        """An attempt of this ticket whose outcome is not known yet (kept across restarts)."""
        ...

    def keep(self, attempt: CardAttempt) -> None: ...

    def forget(self, ticket_id: uuid.UUID) -> None: ...
