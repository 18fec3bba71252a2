"""The till's rules come from the store's settings and are read afresh: a new points value changes
how points pay, a new refund limit changes when a supervisor must approve (no server, no Kivy)."""

from __future__ import annotations

import dataclasses

from cashier_app.presenters.basket import Basket
from cashier_app.presenters.ports import TillContext
from cashier_app.presenters.refunds import RefundPresenter
from cashier_app.presenters.tenders import Payment
from tests.cashier.fakes import (
    CONTEXT,
    T1,
    T2,
    FakeAuth,
    FakeCheckouts,
    FakeCustomers,
    FakeReader,
    FakeRefunds,
    FakeTerminal,
    online,
)


class Rules:
    """Stands in for the settings cache: what ``Services.till`` gives after the last refresh."""

    def __init__(self) -> None:
        self.now = CONTEXT

    def __call__(self) -> TillContext:
        return self.now

    def change(self, **values: int) -> None:
        self.now = dataclasses.replace(self.now, **values)


async def test_points_pay_in_whole_points_at_the_stores_current_value() -> None:
    rules = Rules()
    connection = online()
    basket = Basket(FakeReader(T1, T2), FakeCustomers(), connection)
    pay = Payment(basket, FakeTerminal(), FakeCheckouts(), connection, rules)
    assert await basket.scan("FT1:0001")
    assert pay.points_step == 1
    assert pay.add_balance("points", "0.01"), pay.message
    pay.tenders.clear()

    rules.change(points_per_yuan=50)  # the manager halves what a point is worth
    assert pay.points_step == 2
    assert not pay.add_balance("points", "0.01")
    assert pay.message == "At 50 points per yuan, points pay in steps of ¥0.02; change the points amount."
    assert pay.add_balance("points", "0.02"), pay.message
    pay.tenders.clear()

    rules.change(points_per_yuan=30)  # 3 points pay 0.10: "all the points" rounds down to that step
    assert pay.points_step == 10
    assert pay.add_balance("points"), pay.message
    [tender] = pay.tenders
    assert tender.amount % 10 == 0
    assert 0 < tender.amount <= 12340


async def test_the_refund_limit_is_read_when_the_refund_is_made() -> None:
    rules = Rules()
    p = RefundPresenter(FakeRefunds(), FakeAuth(), online(), rules)
    await p.find("R-0001")
    p.toggle(0)  # the iPhone, 5,999.00
    assert p.needs_approval
    rules.change(refund_approval_limit=1_000_000)
    assert not p.needs_approval
    done = await p.refund("changed mind")
    assert done is not None, p.message
