"""The till's local copy of its allowances (SQLite): what is left counts the offline checkouts still on
their way, never more than granted, released when the server refuses the checkout, none once expired."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cashier_app.adapters.allowances import TillAllowanceBook, _keep
from cashier_app.presenters.ports import SettleRequest, Tender
from client_common.adapters.identity import Device
from client_common.store import DeviceStore
from protocol.ids import new_id
from protocol.members import Allowance
from tests.cashier.fakes import T1, WANG


def granted(amount: int, spent: int = 0, hours: float = 8) -> Allowance:
    return Allowance(
        allowance_id=new_id(),
        member_id=WANG,
        kind="stored_value",
        amount=amount,
        spent=spent,
        state="open",
        expires_at=datetime.now(UTC) + timedelta(hours=hours),
    )


def request(allowance_id: uuid.UUID, amount: int) -> SettleRequest:
    tenders = (Tender(new_id(), "stored_value", amount, allowance_id=allowance_id), Tender(new_id(), "cash", 100))
    return SettleRequest(new_id(), (T1,), tenders, amount + 100, member_id=WANG)


def test_what_is_left_counts_spends_on_their_way_and_a_refusal_credits_them_back(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path)
    book = TillAllowanceBook(Device(tmp_path, store), lambda: 100)
    a = granted(30_000, spent=5_000)
    _keep(store.db, a)
    assert [x.left for x in book.held(WANG)] == [25_000]

    first = request(a.allowance_id, 20_000)
    book.debit(store.db, first)
    assert [x.left for x in book.held(WANG)] == [5_000]
    with pytest.raises(ValueError, match="only 5000 is left"):
        book.debit(store.db, request(a.allowance_id, 6_000))
    with pytest.raises(ValueError, match="not held"):
        book.debit(store.db, request(new_id(), 10))

    book.refused(store.db, str(first.checkout_id))
    assert [x.left for x in book.held(WANG)] == [25_000], "the server took nothing: credited back"

    second = request(a.allowance_id, 25_000)
    book.debit(store.db, second)
    book.settled(store.db, str(second.checkout_id))
    assert [x.left for x in book.held(WANG)] == [0], "applied, it still counts until the server's list does"
    store.close()
    again = TillAllowanceBook(Device(tmp_path, DeviceStore(tmp_path)), lambda: 100)
    assert [x.left for x in again.held(WANG)] == [0], "the copy survives a restart"


def test_an_expired_allowance_has_nothing_left(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path)
    book = TillAllowanceBook(Device(tmp_path, store), lambda: 100, clock=lambda: time.time() + 9 * 3600)
    a = granted(30_000, hours=8)
    _keep(store.db, a)
    assert [x.left for x in book.held(WANG)] == [0]
    with pytest.raises(ValueError):
        book.debit(store.db, request(a.allowance_id, 1))
