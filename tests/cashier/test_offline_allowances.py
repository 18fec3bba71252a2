"""Offline balances within an allowance reserved online: reserving one for the basket's member, then
spending it offline up to what is left (the tender names the allowance), beyond it disabled with the
amount left shown, in English and Chinese."""

from __future__ import annotations

import uuid

from cashier_app.presenters.allowances import ReserveAllowance
from cashier_app.presenters.basket import Basket
from cashier_app.presenters.ports import HeldAllowance, TillContext
from cashier_app.presenters.tenders import Payment
from client_common.connection import ConnectionFeed, ConnectionState
from client_common.i18n import translator
from client_common.presenters.ports import Refused, Unreachable
from protocol.payments import TenderKind
from tests.cashier.fakes import (
    CONTEXT,
    T1,
    T2,
    T3,
    T4,
    WANG,
    FakeCheckouts,
    FakeCustomers,
    FakeReader,
    FakeTerminal,
    online,
)


class FakeAllowances:
    """What the server granted this till, by its own count (the real one is SQLite and HTTP)."""

    def __init__(self) -> None:
        self.granted: dict[uuid.UUID, HeldAllowance] = {}
        self.calls: list[tuple[uuid.UUID, uuid.UUID, TenderKind, int]] = []
        self.reachable = True
        self.refuse: Refused | None = None
        self.given_back: list[uuid.UUID] = []

    def held(self, member_id: uuid.UUID) -> tuple[HeldAllowance, ...]:
        return tuple(a for a in self.granted.values() if a.member_id == member_id)

    async def reserve(
        self, allowance_id: uuid.UUID, member_id: uuid.UUID, kind: TenderKind, amount: int
    ) -> HeldAllowance:
        self.calls.append((allowance_id, member_id, kind, amount))
        if not self.reachable:
            raise Unreachable()
        if self.refuse is not None:
            raise self.refuse
        return self.granted.setdefault(allowance_id, HeldAllowance(allowance_id, member_id, kind, amount, amount))

    async def give_back(self, allowance_id: uuid.UUID) -> None:
        if not self.reachable:
            raise Unreachable()
        self.given_back.append(allowance_id)
        self.granted.pop(allowance_id, None)


class Till:
    def __init__(self, context: TillContext = CONTEXT) -> None:
        self.connection: ConnectionFeed = online()
        self.allowances = FakeAllowances()
        self.checkouts = FakeCheckouts()
        self.basket = Basket(FakeReader(T1, T2, T3, T4), FakeCustomers(), self.connection)
        self.pay = Payment(self.basket, FakeTerminal(), self.checkouts, self.connection, context, self.allowances)
        self.reserve = ReserveAllowance(self.basket, self.allowances, self.connection, context)

    def go_offline(self) -> None:
        self.connection.update(ConnectionState(link="offline"))

    async def wang_reserves(self, kind: TenderKind, amount: str) -> None:
        """Online, Wang's tickets in the basket: reserve, then the customer leaves and the network drops."""
        assert await self.basket.scan("FT1:0001")
        while self.reserve.kind != kind:
            self.reserve.next_kind()
        assert await self.reserve.reserve(amount), self.reserve.message
        self.pay.next_customer()
        self.go_offline()


async def test_reserving_online_takes_it_from_what_the_member_can_spend_online() -> None:
    till = Till()
    assert till.reserve.unavailable() == "Scan a member's ticket or code first."
    assert await till.basket.scan("FT1:0001")  # Wang: ¥1,000.00 of stored value
    assert till.reserve.summary == "Reserve part of a balance to spend it here if the network drops."
    assert not await till.reserve.reserve("1000.01")
    assert till.reserve.message == "The member has only ¥1,000.00 of Stored value."
    assert till.allowances.calls == [], "refused at the till before asking the server"

    assert await till.reserve.reserve("300")
    assert till.reserve.message == "¥300.00 of Stored value reserved for offline use at this till."
    [(_, member, kind, amount)] = till.allowances.calls
    assert (member, kind, amount) == (WANG, "stored_value", 30000)
    assert till.reserve.summary == "Reserved here for offline: Stored value ¥300.00 left"
    assert till.basket.member is not None
    assert till.basket.member.stored_value == 70000, "held money is not available online"
    assert till.basket.balances_text.startswith("Stored value ¥700.00")


async def test_a_lost_answer_asks_again_with_the_same_id_and_a_refusal_is_shown() -> None:
    till = Till()
    assert await till.basket.scan("FT1:0001")
    till.allowances.reachable = False
    assert not await till.reserve.reserve("100")
    assert till.reserve.message == translator.tr("error.network")
    till.allowances.reachable = True
    assert await till.reserve.reserve("100")
    first, second = till.allowances.calls
    assert first == second, "the retry is a replay, never a second reservation"
    till.allowances.refuse = Refused("insufficient_balance", "The member's stored value is short.")
    assert not await till.reserve.reserve("50")
    assert till.reserve.message == "The member's stored value is short."
    till.go_offline()
    assert not await till.reserve.reserve("10")
    assert till.reserve.message == "Reserving a balance needs the server."


async def test_offline_a_balance_pays_up_to_what_is_left_of_the_allowance_and_names_it() -> None:
    till = Till()
    await till.wang_reserves("stored_value", "300")
    [granted] = till.allowances.granted.values()
    assert await till.basket.scan("FT1:0001")  # ticket 1 read from its code: ¥5,999.00, Wang's
    pay = till.pay
    assert pay.unavailable("stored_value") == ""
    assert not pay.add_balance("stored_value", "300.01")
    assert pay.message == "Offline: only ¥300.00 of Stored value is left of this member's allowance."
    assert pay.add_balance("stored_value", "200")
    assert pay.add_balance("stored_value")  # empty: the rest of the allowance
    assert [(t.kind, t.amount, t.allowance_id) for t in pay.tenders] == [
        ("stored_value", 20000, granted.allowance_id),
        ("stored_value", 10000, granted.allowance_id),
    ]
    assert pay.unavailable("stored_value") == (
        "Offline: only ¥0.00 of Stored value is left of this member's allowance."
    ), "beyond the allowance: disabled with the amount left"
    assert pay.unavailable("ecoin").startswith("Offline: balances are spent only within an allowance reserved online")
    assert pay.add_cash("5700")
    settled = await pay.settle()
    assert settled is not None, pay.message
    assert settled.queued
    [request] = till.checkouts.outbox
    assert all(t.offline_ok for t in request.tenders)
    assert request.member_id == WANG


async def test_removing_an_allowance_tender_gives_its_amount_back_to_the_basket() -> None:
    till = Till()
    await till.wang_reserves("stored_value", "300")
    assert await till.basket.scan("FT1:0001")
    assert till.pay.add_balance("stored_value", "300")
    assert till.pay.unavailable("stored_value") != ""
    till.pay.remove(till.pay.tenders[0].id)
    assert till.pay.unavailable("stored_value") == ""


async def test_offline_points_pay_in_whole_points_of_the_allowance() -> None:
    till = Till(TillContext(device_id=CONTEXT.device_id, store_id=CONTEXT.store_id, points_per_yuan=50))
    await till.wang_reserves("points", "")  # all the points Wang has, worth ¥123.40 (the server said)
    [(_, _, kind, amount)] = till.allowances.calls
    assert (kind, amount) == ("points", 6170), "50 points pay a yuan"
    assert await till.basket.scan("FT1:0001")
    assert not till.pay.add_balance("points", "123.41")
    assert till.pay.message == "Offline: only ¥123.40 of Points is left of this member's allowance."
    assert not till.pay.add_balance("points", "0.01")
    assert till.pay.message.startswith("At 50 points per yuan, points pay in steps of ¥0.02")
    assert till.pay.add_balance("points")
    assert [(t.kind, t.amount) for t in till.pay.tenders] == [("points", 12340)]


async def test_a_ticket_without_a_member_cannot_spend_an_allowance() -> None:
    till = Till()
    await till.wang_reserves("stored_value", "300")
    assert await till.basket.scan("FT1:0003")  # no member on it
    assert till.pay.unavailable("stored_value").startswith("Offline: balances are spent only within")


async def test_chinese_texts() -> None:
    till = Till()
    translator.set_language("zh")
    assert await till.basket.scan("FT1:0001")
    assert await till.reserve.reserve("300")
    assert till.reserve.message == "已为本收银台预留储值 ¥300.00，离线可用。"
    assert till.reserve.summary == "本收银台已预留（离线可用）：储值剩 ¥300.00"
    assert till.reserve.kind_text == "储值 ▸"
    till.pay.next_customer()
    till.go_offline()
    assert await till.basket.scan("FT1:0001")
    assert not till.pay.add_balance("stored_value", "400")
    assert till.pay.message == "离线：该会员预留的储值只剩 ¥300.00。"
    assert till.pay.add_balance("stored_value")
    assert till.pay.unavailable("stored_value") == "离线：该会员预留的储值只剩 ¥0.00。"
    assert (
        till.pay.unavailable("ecoin") == "离线：余额只能在联网时预留的额度内使用；本收银台没有该会员的预留。请收现金。"
    )
    assert till.reserve.unavailable() == "预留余额需要连接服务器。"


async def test_giving_back_returns_the_rest_to_the_member() -> None:
    till = Till()
    assert await till.basket.scan("FT1:0001")
    assert await till.reserve.reserve("300")
    assert await till.reserve.give_back()
    assert till.reserve.message == "What was left of the reservations went back to the member."
    assert len(till.allowances.given_back) == 1
    assert till.basket.member is not None
    assert till.basket.member.stored_value == 100000
    assert till.reserve.summary.startswith("Reserve part of a balance")
