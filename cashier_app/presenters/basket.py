"""The customer at the till: every open ticket they carry, from every counter, in one basket.

Scanning any one ticket QR or the member's code brings in all of that customer's open tickets
(the server knows them). Offline, a ticket QR is verified here against the issuing handheld's key and
added on its own; member codes need the server.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from cashier_app.presenters.ports import (
    BasketTicket,
    Customer,
    Customers,
    MemberBalances,
    TicketQrReader,
    UnknownIssuer,
)
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.money_text import fmt
from client_common.presenters.observable import Observable
from client_common.presenters.ports import Refused, Unreachable
from client_common.scan import clean_scan
from protocol.qr import PREFIX as TICKET_QR_PREFIX

NOT_KNOWN_YET = ("not_found", "ticket_not_found")
"""Server answers meaning "I have not received that ticket": a QR-scanned ticket is then paid from its code."""

translator.add(
    {
        "en": {
            "basket.hint": "Scan a ticket QR or the member's code",
            "basket.empty": "Scan any ticket of the customer, or their member code.",
            "basket.total": "To pay {total}",
            "basket.count": "{count} tickets",
            "basket.added": "Added {count} tickets · {total}",
            "basket.already": "Ticket {number} is already in the basket.",
            "basket.qr_bad": "This ticket code cannot be used: {reason}",
            "basket.needs_server": "A member code or ticket number needs the server; scan the ticket QR instead.",
            "basket.qr_only": "Server not reached: only this ticket was added, from its code.",
            "basket.nothing_open": "This customer has no open tickets.",
            "basket.other_member": "These tickets belong to another member; finish this customer first.",
            "basket.removed": "Removed {number}.",
            "basket.no_member": "No member",
            "basket.member": "{name} · {tier}",
            "basket.member_unknown": "Member …{tail} (balances need the server)",
            "basket.balances": "Stored value {stored} · E-coin {ecoin} · Points {points} ({points_value})",
            "basket.line": "{name} ×{qty}",
        },
        "zh": {
            "basket.hint": "扫小票二维码或会员码",
            "basket.empty": "扫描顾客任意一张小票，或其会员码。",
            "basket.total": "应付 {total}",
            "basket.count": "{count} 张小票",
            "basket.added": "已加入 {count} 张小票 · {total}",
            "basket.already": "小票 {number} 已在本单中。",
            "basket.qr_bad": "该小票码无法使用：{reason}",
            "basket.needs_server": "会员码或小票号需要连接服务器；请改扫小票二维码。",
            "basket.qr_only": "未连上服务器：仅按二维码加入了这张小票。",
            "basket.nothing_open": "该顾客没有未付款的小票。",
            "basket.other_member": "这些小票属于另一位会员；请先结完当前顾客。",
            "basket.removed": "已移除 {number}。",
            "basket.no_member": "非会员",
            "basket.member": "{name} · {tier}",
            "basket.member_unknown": "会员 …{tail}（余额需联网查询）",
            "basket.balances": "储值 {stored} · 电子币 {ecoin} · 积分 {points}（{points_value}）",
            "basket.line": "{name} ×{qty}",
        },
    }
)


@dataclass(frozen=True)
class BasketRow:
    ticket_id: uuid.UUID
    title: str  # number and counter
    detail: str  # the lines
    total: str


class Basket(Observable):
    def __init__(self, reader: TicketQrReader, customers: Customers, connection: ConnectionFeed) -> None:
        super().__init__()
        self._reader = reader
        self._customers = customers
        self._connection = connection
        self.tickets: list[BasketTicket] = []
        self.member: MemberBalances | None = None
        self.message = ""
        self.busy = False

    # --- scanning ---------------------------------------------------------------------------------

    async def scan(self, text: str) -> bool:
        """A ticket QR, ticket number or member code, as the scanner typed it."""
        code = clean_scan(text)
        if not code:
            return False
        self.busy = True
        self.changed()
        try:
            if code.startswith(TICKET_QR_PREFIX):
                return await self._scan_ticket_qr(code)
            if not self._connection.state.online:
                return self._say("basket.needs_server")
            return self._take(await self._customers.find(code))
        except Refused as exc:
            self.message = exc.message
            return False
        except Unreachable:
            return self._say("error.network")
        finally:
            self.busy = False
            self.changed()

    async def _scan_ticket_qr(self, code: str) -> bool:
        try:
            ticket = self._reader.read(code)
        except ValueError as exc:
            if not isinstance(exc, UnknownIssuer) or not self._connection.state.online:
                return self._say("basket.qr_bad", reason=str(exc))
            # A handheld enrolled since this till last fetched the store's keys: the server knows it.
            try:
                return self._take(await self._customers.find(code))
            except Refused:
                return self._say("basket.qr_bad", reason=str(exc))
        if not self._connection.state.online:
            return self._take(Customer(tickets=(ticket,)), quiet_single=True)
        try:
            customer = await self._customers.find(code)
        except Unreachable:
            self._take(Customer(tickets=(ticket,)), quiet_single=True)
            return self._say("basket.qr_only", ok=True)
        except Refused as exc:
            if exc.code in NOT_KNOWN_YET:  # the handheld has not sent it yet: pay it from its code
                return self._take(Customer(tickets=(ticket,)), quiet_single=True)
            raise
        return self._take(customer)

    def _take(self, customer: Customer, quiet_single: bool = False) -> bool:
        if not customer.tickets:
            return self._say("basket.nothing_open")
        members = {t.member_id for t in (*self.tickets, *customer.tickets) if t.member_id is not None}
        if customer.member is not None:
            members.add(customer.member.member_id)
        if len(members) > 1:
            return self._say("basket.other_member")
        have = {t.id for t in self.tickets}
        new = [t for t in customer.tickets if t.id not in have]
        if not new:
            return self._say("basket.already", number=customer.tickets[0].number)
        self.tickets.extend(new)
        if customer.member is not None:
            self.member = customer.member
        return self._say("basket.added", ok=True, count=len(new), total=fmt(sum(t.total for t in new)))

    # --- editing ----------------------------------------------------------------------------------

    def remove(self, ticket_id: uuid.UUID) -> None:
        """Take one ticket out (the customer pays it another time); the member stays while tickets remain."""
        ticket = next((t for t in self.tickets if t.id == ticket_id), None)
        if ticket is None:
            return
        self.tickets.remove(ticket)
        if not self.tickets:
            self.member = None
        self._say("basket.removed", ok=True, number=ticket.number)
        self.changed()

    def clear(self) -> None:
        self.tickets.clear()
        self.member = None
        self.message = ""
        self.changed()

    # --- figures and text -------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return sum(t.total for t in self.tickets)

    @property
    def member_id(self) -> uuid.UUID | None:
        if self.member is not None:
            return self.member.member_id
        return next((t.member_id for t in self.tickets if t.member_id is not None), None)

    @property
    def all_from_codes(self) -> bool:
        """Every ticket was read from its signed QR, so the till can settle it without the server."""
        return bool(self.tickets) and all(t.qr for t in self.tickets)

    @property
    def rows(self) -> list[BasketRow]:
        tr = translator.tr
        return [
            BasketRow(
                ticket_id=t.id,
                title=f"{t.number}  {t.counter}".strip(),
                detail="  ".join(tr("basket.line", name=line.name, qty=line.qty) for line in t.lines),
                total=fmt(t.total),
            )
            for t in self.tickets
        ]

    @property
    def total_text(self) -> str:
        return translator.tr("basket.total", total=fmt(self.total))

    @property
    def member_text(self) -> str:
        m = self.member
        if m is None:
            member_id = self.member_id
            if member_id is not None:  # read from a ticket code offline: known by id only
                return translator.tr("basket.member_unknown", tail=str(member_id)[-4:])
            return translator.tr("basket.no_member")
        return translator.tr("basket.member", name=m.name, tier=m.tier or "-")

    @property
    def balances_text(self) -> str:
        m = self.member
        if m is None:
            return ""
        return translator.tr(
            "basket.balances",
            stored=fmt(m.stored_value),
            ecoin=fmt(m.e_coin),
            points=m.points,
            points_value=fmt(m.points_value),
        )

    def _say(self, key: str, ok: bool = False, **values: Any) -> bool:
        self.message = translator.tr(key, **values)
        self.changed()
        return ok
