"""A demo store with two counters' handhelds, a till, demo members and the simulated acquirer."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest

from protocol.checkout import CheckoutRequest, TenderKind, TenderRequest
from protocol.ids import new_id
from protocol.payments import OpenShift
from protocol.tickets import Ticket
from server.auth.guards import Caller, DeviceCaller
from server.checkout.config import CheckoutConfig
from server.checkout.service import Payments, Who
from server.demo import DemoInfo
from server.payments.simulator import SimulatorProvider
from server.shifts import service as shifts
from server.sync.service import apply_commands
from tests.server.payments.conftest import FAST
from tests.ticket_helpers import Catalog, catalog, device, draft, issue

APPROVE = "4111111111111111"
DECLINE = "4000000000009995"
TIMEOUT_CHARGED = "4000000000000119"
WALLET = "280000000000000000"

CONFIG = CheckoutConfig(refund_approval_limit=10**10)  # tests of approval set their own limit
FLOAT = 50_000


@dataclass
class Shop:
    store_id: uuid.UUID
    apple: Catalog
    huawei: Catalog
    hh_apple: DeviceCaller
    hh_huawei: DeviceCaller
    till: DeviceCaller
    cashier_id: uuid.UUID
    shift_id: uuid.UUID
    members: dict[str, uuid.UUID]
    seqs: dict[uuid.UUID, itertools.count[int]] = field(default_factory=dict)

    def who(self) -> Who:
        return Who(
            store_id=self.store_id, staff_id=self.cashier_id, device_id=self.till.device_id, shift_id=self.shift_id
        )

    async def issue(
        self,
        conn: asyncpg.Connection,
        counter: str = "apple",
        *,
        member_id: uuid.UUID | None = None,
        lines: int = 2,
        qty: int = 1,
        discount: int = 0,
    ) -> Ticket:
        cat, hh = (self.apple, self.hh_apple) if counter == "apple" else (self.huawei, self.hh_huawei)
        seq = self.seqs.setdefault(hh.device_id, itertools.count(1))
        prefix = "SH01-C-APL-H1" if counter == "apple" else "SH01-C-HUA-H2"
        d = draft(
            cat, lines=lines, qty=qty, discount=discount, member_id=member_id, number=f"{prefix}-{new_id().hex[-8:]}"
        )
        (result,), _ = await apply_commands(conn, hh, [issue(d, next(seq))])
        assert result.status == "applied", result.error
        assert result.ticket is not None
        return result.ticket


async def open_shop(conn: asyncpg.Connection, store_id: uuid.UUID) -> Shop:
    """The demo store's handhelds and till enrolled, cashier C001 on an open shift."""
    hh_apple, _ = await device(conn, "Handheld Apple 1")
    hh_huawei, _ = await device(conn, "Handheld Huawei 1")
    till, _ = await device(conn, "Till 1")
    cashier = await conn.fetchval("SELECT id FROM staff WHERE code = 'C001'")
    rows = await conn.fetch("SELECT member_id, number FROM member_card WHERE kind = 'code'")
    caller = Caller(staff_id=cashier, store_id=store_id, role="cashier", device_id=till.device_id)
    shift = await shifts.open_shift(conn, caller, OpenShift(shift_id=new_id(), float_amount=FLOAT))
    return Shop(
        store_id=store_id,
        apple=await catalog(conn, "C-APL"),
        huawei=await catalog(conn, "C-HUA"),
        hh_apple=hh_apple,
        hh_huawei=hh_huawei,
        till=till,
        cashier_id=cashier,
        shift_id=shift.id,
        members={r["number"]: r["member_id"] for r in rows},
    )


@pytest.fixture
async def shop(conn: asyncpg.Connection, demo: DemoInfo) -> Shop:
    return await open_shop(conn, demo.store_id)


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(db_dsn, min_size=1, max_size=8)
    assert p is not None
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
def pay(pool: asyncpg.Pool) -> Payments:
    return Payments(SimulatorProvider(pool, hang_s=FAST.sim_hang_s, unknown_settle_s=0.0), FAST)


def tender(kind: TenderKind, amount: int, token: str | None = None) -> TenderRequest:
    if token is None and kind == "card":
        token = APPROVE
    if token is None and kind == "wallet":
        token = WALLET
    return TenderRequest(id=new_id(), kind=kind, amount=amount, token=token)


def checkout(tickets: list[Ticket], *tenders: TenderRequest, member_id: uuid.UUID | None = None) -> CheckoutRequest:
    return CheckoutRequest(
        id=new_id(),
        ticket_ids=[t.id for t in tickets],
        tenders=list(tenders),
        member_id=member_id,
        expected_total=sum(t.total for t in tickets),
    )


async def charges_at_acquirer(conn: asyncpg.Connection, payment_id: uuid.UUID) -> int:
    return int(
        await conn.fetchval("SELECT count(*) FROM sim_acquirer_charge WHERE idempotency_key = $1", str(payment_id))
    )


async def balance(conn: asyncpg.Connection, member_id: uuid.UUID, kind: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT coalesce(sum(balance), 0) FROM ledger_account WHERE member_id = $1 AND kind = $2 AND NOT held",
            member_id,
            kind,
        )
    )
