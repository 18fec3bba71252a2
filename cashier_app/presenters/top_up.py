"""Stored-value top-up at the till: find the member, take the cash, add it to their account."""

from __future__ import annotations

import uuid
from typing import Any

from cashier_app.presenters.ports import Customers, MemberBalances, TopUps
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.money_text import fmt, parse_yuan
from client_common.presenters.observable import Observable
from client_common.presenters.ports import Refused, Unreachable
from client_common.scan import clean_scan
from protocol.ids import new_id

translator.add(
    {
        "en": {
            "topup.title": "Stored-value top-up",
            "topup.hint": "Scan the member's code or type their phone",
            "topup.amount": "Amount taken in cash (yuan)",
            "topup.submit": "Top up",
            "topup.needs_server": "Top-ups need the server; wait for the network.",
            "topup.no_member": "Find the member first.",
            "topup.amount_bad": "Enter the amount as yuan, e.g. 500.",
            "topup.done": "Added {amount}; {name} now has {balance} stored value.",
            "topup.member": "{name} · stored value {balance}",
        },
        "zh": {
            "topup.title": "储值充值",
            "topup.hint": "扫会员码或输入手机号",
            "topup.amount": "现金收款金额（元）",
            "topup.submit": "充值",
            "topup.needs_server": "充值需要连接服务器；请等待网络恢复。",
            "topup.no_member": "请先查找会员。",
            "topup.amount_bad": "请按元输入金额，如 500。",
            "topup.done": "已充值 {amount}；{name} 储值余额 {balance}。",
            "topup.member": "{name} · 储值余额 {balance}",
        },
    }
)


class TopUpPresenter(Observable):
    def __init__(self, customers: Customers, top_ups: TopUps, connection: ConnectionFeed) -> None:
        super().__init__()
        self._customers = customers
        self._top_ups = top_ups
        self._connection = connection
        self.member: MemberBalances | None = None
        self.shift_id: uuid.UUID | None = None
        self.message = ""
        self._movement: tuple[uuid.UUID, uuid.UUID, int] | None = None  # (movement id, member, amount)

    @property
    def unavailable(self) -> str:
        return "" if self._connection.state.online else translator.tr("topup.needs_server")

    async def find(self, text: str) -> bool:
        code = clean_scan(text)
        if not code:
            return False
        if why := self.unavailable:
            return self._say_text(why)
        try:
            self.member = await self._customers.member(code)
        except Refused as exc:
            self.member = None
            return self._say_text(exc.message)
        except Unreachable:
            return self._say("error.network")
        return self._say_text(self.member_text, ok=True)

    async def top_up(self, amount_text: str) -> bool:
        if why := self.unavailable:
            return self._say_text(why)
        member = self.member
        if member is None:
            return self._say("topup.no_member")
        amount = parse_yuan(amount_text)
        if amount is None or amount <= 0:
            return self._say("topup.amount_bad")
        # Same member and amount after a lost answer: the same movement id, so it is added once.
        if self._movement is None or self._movement[1:] != (member.member_id, amount):
            self._movement = (new_id(), member.member_id, amount)
        try:
            balance = await self._top_ups.top_up(member.member_id, self._movement[0], amount, self.shift_id)
        except Refused as exc:
            self._movement = None
            return self._say_text(exc.message)
        except Unreachable:
            return self._say("error.network")
        self._movement = None
        self.member = MemberBalances(
            member_id=member.member_id,
            name=member.name,
            tier=member.tier,
            points=member.points,
            points_value=member.points_value,
            e_coin=member.e_coin,
            stored_value=balance,
        )
        return self._say("topup.done", ok=True, amount=fmt(amount), name=member.name, balance=fmt(balance))

    @property
    def member_text(self) -> str:
        m = self.member
        return translator.tr("topup.member", name=m.name, balance=fmt(m.stored_value)) if m else ""

    def _say(self, key: str, ok: bool = False, **values: Any) -> bool:
        return self._say_text(translator.tr(key, **values), ok)

    def _say_text(self, text: str, ok: bool = False) -> bool:
        self.message = text
        self.changed()
        return ok
