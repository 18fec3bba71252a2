from __future__ import annotations

import time
import uuid

import pytest
from nacl.signing import SigningKey

from handheld_app.presenters.my_tickets import MyTickets
from handheld_app.presenters.ticket_builder import TicketBuilder
from handheld_app.receipts import SignedReceipts
from protocol.receipts import ReceiptPayload, ReceiptTicket, sign_receipt
from tests.handheld.fakes import CONTEXT, PRODUCTS, STAFF, STORE, FakeAuth, FakeBook

TILL = uuid.UUID(int=900)


def receipt(key: SigningKey, tickets: list[tuple[uuid.UUID, str, int]], store: uuid.UUID = STORE) -> str:
    payload = ReceiptPayload(
        receipt_no="R-1",
        store_id=store,
        checkout_id=uuid.UUID(int=5),
        tickets=[ReceiptTicket(i, n, t) for i, n, t in tickets],
        total=sum(t for _, _, t in tickets),
        paid=sum(t for _, _, t in tickets),
        at=int(time.time()),
        signer=TILL,
    )
    return sign_receipt(payload, key)


@pytest.fixture
def till_key() -> SigningKey:
    return SigningKey.generate()


def test_a_genuine_receipt_releases_the_tickets_it_pays(till_key: SigningKey) -> None:
    book = FakeBook()
    b = TicketBuilder(book, FakeAuth(), CONTEXT)
    b.staff = STAFF[("S001", "1111")]
    b.add(PRODUCTS[0])
    t = b.issue()
    assert t is not None
    mine = MyTickets(book, SignedReceipts(STORE, {TILL: bytes(till_key.verify_key)}))
    mine.refresh()
    released = mine.release_by_receipt(receipt(till_key, [(t.id, t.number, t.total)]))
    assert [r.id for r in released] == [t.id]


def test_forged_foreign_and_other_store_receipts_are_refused(till_key: SigningKey) -> None:
    verifier = SignedReceipts(STORE, {TILL: bytes(till_key.verify_key)})
    ticket = (uuid.uuid4(), "SH01-C-APL-H1-000001", 100)
    with pytest.raises(ValueError, match="signature"):
        SignedReceipts(STORE, {TILL: bytes(SigningKey.generate().verify_key)}).verify(receipt(till_key, [ticket]))
    with pytest.raises(ValueError, match="does not know"):
        SignedReceipts(STORE, {}).verify(receipt(till_key, [ticket]))
    with pytest.raises(ValueError, match="another store"):
        verifier.verify(receipt(till_key, [ticket], store=uuid.uuid4()))
    assert verifier.verify(receipt(till_key, [ticket])).ticket_ids == {ticket[0]}
