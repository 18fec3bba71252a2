"""The store's exception queue: conflicts the server could not settle, kept for a supervisor or manager.

A till settles cash checkouts of QR-scanned tickets while the network is down. When it replays one
(``CheckoutRequest.settled_offline_at_ms`` set) and the server refuses it for a conflict (a ticket
voided meanwhile, paid at another till, changed since its QR was printed, unknown), the cash is
already in the drawer: the server records one ``StoreException`` per checkout id with the money
movements that put things right, and the refusal's ``details`` carry it (``details["exception"]``,
decoded as ``StoreException``). A handheld's offline void of a ticket the customer paid meanwhile
lands here too, with no money movement (the goods question is for the counter).

Nothing is ever deleted: a supervisor resolves an exception with a note once the fix is made.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from protocol.checkout import SupervisorApproval
from protocol.tickets import Fen

ExceptionKind = Literal[
    "paid_elsewhere",  # the ticket was paid by another checkout (another till, one-stop) meanwhile
    "ticket_voided",  # the counter voided the ticket before the till's offline payment reached the server
    "ticket_expired",  # the ticket expired at the end of its business day before the payment arrived
    "ticket_not_open",  # any other state that cannot be paid
    "total_changed",  # the tickets' total on the server is not what the customer paid for
    "member_changed",  # the tickets belong to another member than the one the till settled for
    "unknown_ticket",  # the server has no such ticket in this store (its QR upload was refused)
    "void_after_payment",  # a handheld voided offline a ticket the customer had paid meanwhile
    "attach_after_payment",  # a handheld attached a member offline to a ticket the customer had paid meanwhile
]
FIRST_KINDS: tuple[str, ...] = (
    "paid_elsewhere",
    "ticket_voided",
    "ticket_expired",
    "ticket_not_open",
    "total_changed",
    "member_changed",
    "unknown_ticket",
    "void_after_payment",
)
"""The kinds of the queue's first version: what a till that does not say which kinds it knows is sent."""
ExceptionStatus = Literal["open", "resolved"]
CashOutcome = Literal["given_back", "kept"]
"""What became of the cash of an exception when it was resolved: given back to the customer from a
till's drawer, or kept by the store (e.g. the customer never came back)."""
Note = Annotated[str, msgspec.Meta(max_length=500)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=200)]
Offset = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]


class ExceptionCodes:
    """Stable error codes of the exception queue. Never rename one; add new ones."""

    ALREADY_RESOLVED = "exception_already_resolved"
    NOTE_REQUIRED = "exception_note_required"
    APPROVAL_REQUIRED = "exception_approval_required"
    APPROVAL_REFUSED = "exception_approval_refused"


class MoneyMovement(msgspec.Struct, kw_only=True, frozen=True):
    """One movement of money that fixes the exception, e.g. ``refund_cash`` of 6,000.00 to the customer.

    ``action`` is ``refund_cash`` (give the cash back from the drawer) or ``refund_on_terminal`` (give a
    card charge made on the till's standalone terminal back on that terminal); clients show an action
    they do not know by its ``amount`` and ``tender``. ``tender`` is the tender kind the money was
    taken with; ``amount`` is in fen of the exception's currency and always positive. Card and wallet
    charges through the provider are given back by the server itself and never appear here.
    """

    action: str
    amount: Fen
    tender: str


class StoreException(msgspec.Struct, kw_only=True, frozen=True):
    """One conflict for the manager, with what was taken and the movements that fix it.

    ``number`` is short and stable, for people ("exception 42"). ``taken`` is the money the till kept
    per tender kind (cash handed over minus change given). ``fix`` is what to do with money;
    ``fix_text`` says it in ``en`` and ``zh`` with the amounts, for screens that show it as is;
    clients may also word it themselves from ``kind`` and ``fix``. ``refusal_code`` is the error code
    the refused checkout or command got. ``offline_receipt_no`` is the provisional receipt number the
    till printed on the customer's paper receipt when it took the money offline ("" when the till did
    not send it), to match the refund to the customer's receipt.

    The cash in the till's books: ``held_in_shift_id`` is the shift whose expected cash took in the
    cash when the exception was recorded (the till's shift open since before the money was taken;
    None when there was none, and the cash showed as "over" in that shift's Z report).
    ``cash_outcome`` says what the resolution did with it, and ``given_back_in_shift_id`` the shift
    whose expected cash gave it back (None when no till shift was open: given back from the safe).
    """

    id: uuid.UUID
    number: int
    store_id: uuid.UUID
    kind: ExceptionKind
    status: ExceptionStatus
    currency: str
    taken: dict[str, int]
    fix: list[MoneyMovement]
    fix_text: dict[str, str]
    refusal_code: str
    ticket_ids: list[uuid.UUID]
    ticket_numbers: list[str]
    created_at_ms: int
    checkout_id: uuid.UUID | None = None
    command_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    device_label: str = ""
    staff_id: uuid.UUID | None = None
    staff_name: str = ""
    settled_offline_at_ms: int | None = None
    resolved_by: uuid.UUID | None = None
    resolved_by_name: str = ""
    resolved_at_ms: int | None = None
    resolution_note: str = ""
    offline_receipt_no: str = ""
    held_in_shift_id: uuid.UUID | None = None
    cash_outcome: str = ""  # "given_back" or "kept" once resolved with cash to give back; else ""
    given_back_in_shift_id: uuid.UUID | None = None

    @property
    def to_refund(self) -> int:
        """Fen to give back in all."""
        return sum(m.amount for m in self.fix)


class ExceptionList(msgspec.Struct, kw_only=True, frozen=True):
    """One page of the queue, newest first; ``total`` counts every exception matching the filter."""

    exceptions: list[StoreException]
    total: int
    limit: int
    offset: int


class ResolveException(msgspec.Struct, kw_only=True, frozen=True):
    """Mark an exception resolved, saying what was done (``note``).

    A cashier signed in at a till resolves only with a supervisor's staff code and PIN in
    ``approval`` (as refunds above the limit); supervisors and managers need none.

    ``cash_outcome`` (for an exception with cash to give back; ``given_back`` when absent, as the fix
    says): ``given_back`` records the cash leaving the drawer of the exception's till when it has a
    shift open, else of the till this is sent from, else of none (given back from the safe); ``kept``
    leaves it in the books where it is.
    """

    note: Note
    approval: SupervisorApproval | None = None
    cash_outcome: CashOutcome | None = None


class ExceptionQuery(msgspec.Struct, kw_only=True, frozen=True):
    """The queue as a till asks for it: a cashier signed in there sends a supervisor's approval.

    ``kinds`` lists the kinds the client can decode and show (``ExceptionKind`` grows: a client built
    before a kind existed would refuse the whole list); absent, only ``FIRST_KINDS`` are sent.
    """

    status: ExceptionStatus | None = "open"
    limit: Limit = 50
    offset: Offset = 0
    approval: SupervisorApproval | None = None
    kinds: Annotated[list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=50)] | None = None
