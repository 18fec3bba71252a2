"""In-memory stand-ins for the handheld's ports: the real ones are SQLite, HTTP and websockets."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import replace

import msgspec

from client_common.presenters.ports import EnrolledDevice, Refused, StaffSession, Unreachable
from handheld_app.presenters.ports import (
    CardAttempt,
    CardOutcome,
    CatalogItem,
    DeviceContext,
    LocalTicket,
    MemberCard,
    PaidReceipt,
)
from handheld_app.presenters.product_search import matches
from protocol.tickets import TicketDraft

STORE = uuid.UUID("01900000-0000-7000-8000-000000000001")
COUNTER = uuid.UUID("01900000-0000-7000-8000-000000000002")
DEVICE = uuid.UUID("01900000-0000-7000-8000-000000000003")
CONTEXT = DeviceContext(device_id=DEVICE, store_id=STORE, counter_id=COUNTER)


def _pid(n: int) -> uuid.UUID:
    return uuid.UUID(f"01900000-0000-7000-8000-1000000000{n:02d}")


PRODUCTS = [
    CatalogItem(_pid(1), "APL-IP16", "6901234500011", "iPhone 16 128GB", "iPhone 16 128GB", 599900, None, COUNTER),
    CatalogItem(_pid(2), "APL-APP2", "6901234500028", "AirPods Pro 2", "AirPods Pro 2", 189900, 169900, COUNTER),
    CatalogItem(_pid(3), "HUA-P70", "6901234500042", "华为 Pura 70", "Huawei Pura 70", 549900, 499900, COUNTER),
    CatalogItem(
        _pid(4), "SNY-XM5", "6901234500073", "索尼降噪耳机 WH-1000XM5", "Sony WH-1000XM5", 249900, None, COUNTER
    ),
    CatalogItem(_pid(5), "HOM-KT01", "6901234500127", "电热水壶", "Electric kettle", 19900, 14900, COUNTER),
]


class FakeCatalog:
    def __init__(self, items: list[CatalogItem] = PRODUCTS) -> None:
        self.items = list(items)

    def by_code(self, code: str) -> CatalogItem | None:
        return next((i for i in self.items if code in (i.sku, i.barcode)), None)

    def search(self, text: str, limit: int) -> list[CatalogItem]:
        return [i for i in self.items if matches(i, text)][:limit]


STAFF = {
    ("S001", "1111"): StaffSession(uuid.UUID(int=11), "王芳 Wang Fang", "sales", STORE),
    ("V001", "4444"): StaffSession(uuid.UUID(int=14), "刘洋 Liu Yang", "supervisor", STORE),
}


class FakeAuth:
    def __init__(self) -> None:
        self.offline = False
        self.calls: list[str] = []

    async def sign_in(self, staff_code: str, pin: str) -> StaffSession:
        return self._check(staff_code, pin)

    async def check_supervisor(self, staff_code: str, pin: str) -> StaffSession:
        return self._check(staff_code, pin)

    def _check(self, code: str, pin: str) -> StaffSession:
        self.calls.append(code)
        if self.offline:
            raise Unreachable
        found = STAFF.get((code, pin))
        if found is None:
            raise Refused("bad_credentials", "Staff number or PIN is wrong; try again.")
        return found


class FakeEnroller:
    def __init__(self) -> None:
        self.device: EnrolledDevice | None = None
        self.seen: list[tuple[str, str]] = []

    def enrolled(self) -> EnrolledDevice | None:
        return self.device

    async def enroll(self, server_url: str, code: str) -> EnrolledDevice:
        self.seen.append((server_url, code))
        if code != "ABCD1234":
            raise Refused("enrollment_code_invalid", "This enrollment code is not valid; ask a manager for a new one.")
        self.device = EnrolledDevice(DEVICE, STORE, "Handheld Apple 1", COUNTER, "SH01", "C-APL")
        return self.device


MEMBER = MemberCard(uuid.UUID(int=77), "王*", "138****0001", "Gold", 12_340)


class FakeMembers:
    def __init__(self) -> None:
        self.offline = False

    async def find(self, code_or_phone: str) -> MemberCard | None:
        if self.offline:
            raise Unreachable
        return MEMBER if code_or_phone in ("13800000001", "M-0001") else None


def qr_of(draft: TicketDraft) -> str:
    return "FT1:" + base64.urlsafe_b64encode(msgspec.json.encode(draft)).decode()


class FakeBook:
    def __init__(self) -> None:
        self.drafts: dict[uuid.UUID, TicketDraft] = {}
        self.local: dict[uuid.UUID, LocalTicket] = {}
        self.released: list[tuple[uuid.UUID, str | None]] = []
        self.voided: list[uuid.UUID] = []
        self.seq = 0
        self._listeners: list[Callable[[], None]] = []

    def next_number(self) -> str:
        self.seq += 1
        return f"SH01-C-APL-H1-{self.seq:06d}"

    def issue(self, draft: TicketDraft) -> LocalTicket:
        self.drafts[draft.id] = draft
        t = LocalTicket(draft.id, draft.number, draft.total, "issued", sum(x.qty for x in draft.lines), qr=qr_of(draft))
        self.local[draft.id] = t
        self._notify()
        return t

    def set_state(self, ticket_id: uuid.UUID, state: str) -> None:
        """What a server event does."""
        self.local[ticket_id] = replace(self.local[ticket_id], state=state, synced=True)  # type: ignore[arg-type]
        self._notify()

    def void(self, ticket_id: uuid.UUID, reason: str) -> None:
        self.voided.append(ticket_id)
        self.local[ticket_id] = replace(self.local[ticket_id], state="voided")

    def release(self, ticket_id: uuid.UUID, receipt_qr: str | None = None) -> None:
        self.released.append((ticket_id, receipt_qr))
        self.local[ticket_id] = replace(self.local[ticket_id], state="released", released=True)

    def attach_member(self, ticket_id: uuid.UUID, member_id: uuid.UUID) -> None:
        self.local[ticket_id] = replace(self.local[ticket_id], member_name=str(member_id))

    def tickets(self, staff_id: uuid.UUID | None) -> list[LocalTicket]:
        return sorted(self.local.values(), key=lambda t: t.number, reverse=True)

    def ticket(self, ticket_id: uuid.UUID) -> LocalTicket | None:
        return self.local.get(ticket_id)

    def on_change(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def _notify(self) -> None:
        for cb in self._listeners:
            cb()


class FakeVerifier:
    """Receipts are ``RCPT:<ticket id>,<ticket id>``; anything else fails the signature check."""

    def verify(self, receipt_qr: str) -> PaidReceipt:
        if not receipt_qr.startswith("RCPT:"):
            raise ValueError("the signature does not match any till of this store")
        ids = frozenset(uuid.UUID(x) for x in receipt_qr[5:].split(","))
        return PaidReceipt(checkout_id=uuid.UUID(int=5), ticket_ids=ids)


class FakeOneStop:
    """A card terminal scripted per card number: each send answers the next outcome of that card's script
    (the last one repeats). Records every send, and each charge only once per payment id."""

    def __init__(self, scripts: dict[str, list[CardOutcome]] | None = None) -> None:
        self.scripts = scripts or {}
        self.sends: list[tuple[CardAttempt, str]] = []
        self.kept: dict[uuid.UUID, CardAttempt] = {}
        self.charged: dict[uuid.UUID, int] = {}  # payment id -> amount, as the acquirer's books

    async def pay(self, attempt: CardAttempt, token: str) -> CardOutcome:
        self.sends.append((attempt, token))
        script = self.scripts.get(token, [CardOutcome(state="paid", masked=f"**** {token[-4:]}", receipt_no="R-1")])
        outcome = script.pop(0) if len(script) > 1 else script[0]
        if outcome.state == "paid":
            self.charged[attempt.tender_id] = attempt.amount
        return outcome

    def pending(self, ticket_id: uuid.UUID) -> CardAttempt | None:
        return self.kept.get(ticket_id)

    def keep(self, attempt: CardAttempt) -> None:
        self.kept[attempt.ticket_id] = attempt

    def forget(self, ticket_id: uuid.UUID) -> None:
        self.kept.pop(ticket_id, None)
