"""The ticket being built: lines, quantities, supervisor-approved price overrides, the member, totals.

Figures follow the server's rule: ``line_total = qty * unit_price - line_discount`` and the ticket
total is the sum of line totals, all integer fen.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace

from client_common.i18n import translator
from client_common.money_text import fmt, parse_yuan
from client_common.presenters.observable import Observable
from client_common.presenters.ports import (
    SUPERVISOR_ROLES,
    Authenticator,
    Refused,
    StaffSession,
    Unreachable,
)
from handheld_app.presenters.ports import CatalogItem, DeviceContext, LocalTicket, MemberCard, TicketBook
from protocol.ids import new_id
from protocol.tickets import TicketDraft, TicketLine

MAX_QTY = 10_000
MAX_LINES = 200

translator.add(
    {
        "en": {
            "ticket.empty": "Scan or search a product to start a ticket.",
            "ticket.total": "Total {total}",
            "ticket.items": "{count} items",
            "ticket.issue": "Issue ticket",
            "ticket.clear": "Clear",
            "ticket.qty_bad": "Quantity must be a whole number from 1 to 10000.",
            "ticket.price_bad": "Enter the price as yuan, e.g. 1299 or 1299.50.",
            "ticket.override_same": "That is already the price.",
            "ticket.override_needs": "A supervisor must approve this price: staff number and PIN.",
            "ticket.override_not_supervisor": "{name} is not a supervisor; ask a supervisor to approve.",
            "ticket.override_pending": "Price {price} waits for a supervisor.",
            "ticket.override_mark": "price by {name}",
            "ticket.promo": "promotion",
            "ticket.too_many": "A ticket holds at most 200 lines; issue this one and start another.",
            "ticket.nothing": "Add at least one product first.",
            "ticket.not_signed_in": "Sign in first.",
            "ticket.new_price": "New unit price (yuan)",
        },
        "zh": {
            "ticket.empty": "扫码或搜索商品开始开单。",
            "ticket.total": "合计 {total}",
            "ticket.items": "{count} 件",
            "ticket.issue": "开单",
            "ticket.clear": "清空",
            "ticket.qty_bad": "数量须为 1 到 10000 的整数。",
            "ticket.price_bad": "请按元输入价格，如 1299 或 1299.50。",
            "ticket.override_same": "已经是这个价格。",
            "ticket.override_needs": "改价须主管批准：请输入主管工号和密码。",
            "ticket.override_not_supervisor": "{name} 不是主管，请主管批准。",
            "ticket.override_pending": "改价 {price} 等待主管批准。",
            "ticket.override_mark": "{name} 批准改价",
            "ticket.promo": "促销",
            "ticket.too_many": "一张小票最多 200 行；请先开出本单再开新单。",
            "ticket.nothing": "请先添加商品。",
            "ticket.not_signed_in": "请先登录。",
            "ticket.new_price": "新单价（元）",
        },
    }
)


@dataclass(frozen=True)
class Line:
    item: CatalogItem
    qty: int
    unit_price: int
    override_by: StaffSession | None = None

    @property
    def total(self) -> int:
        return self.qty * self.unit_price

    @property
    def promo(self) -> bool:
        return self.override_by is None and self.item.promo_price is not None


@dataclass(frozen=True)
class PendingOverride:
    index: int
    price: int


class TicketBuilder(Observable):
    def __init__(self, book: TicketBook, auth: Authenticator, device: DeviceContext) -> None:
        super().__init__()
        self._book = book
        self._auth = auth
        self._device = device
        self.lines: list[Line] = []
        self.member: MemberCard | None = None
        self.staff: StaffSession | None = None
        self.pending: PendingOverride | None = None
        self.error = ""

    # --- lines ------------------------------------------------------------------------------------

    def add(self, item: CatalogItem, qty: int = 1) -> None:
        """Add a product; scanning the same product again adds to its line."""
        self.error = ""
        for i, line in enumerate(self.lines):
            if line.item.product_id == item.product_id and line.override_by is None:
                self.lines[i] = replace(line, qty=min(MAX_QTY, line.qty + qty))
                self.changed()
                return
        if len(self.lines) >= MAX_LINES:
            self._fail("ticket.too_many")
            return
        price = item.promo_price if item.promo_price is not None else item.list_price
        self.lines.append(Line(item=item, qty=qty, unit_price=price))
        self.changed()

    def set_qty(self, index: int, qty_text: str | int) -> bool:
        """Change a line's quantity; 0 removes the line."""
        text = str(qty_text).strip()
        if not text.isdigit() or int(text) > MAX_QTY:
            return self._fail("ticket.qty_bad")
        qty = int(text)
        if qty == 0:
            self.remove(index)
            return True
        self.lines[index] = replace(self.lines[index], qty=qty)
        self.error = ""
        self.changed()
        return True

    def step_qty(self, index: int, delta: int) -> None:
        self.set_qty(index, max(0, self.lines[index].qty + delta))

    def remove(self, index: int) -> None:
        del self.lines[index]
        if self.pending and self.pending.index == index:
            self.pending = None
        self.error = ""
        self.changed()

    # --- price override ---------------------------------------------------------------------------

    def request_override(self, index: int, price_text: str) -> bool:
        """Ask for a new unit price; it applies only after ``approve`` with a supervisor's PIN."""
        price = parse_yuan(price_text)
        if price is None:
            return self._fail("ticket.price_bad")
        if price == self.lines[index].unit_price:
            return self._fail("ticket.override_same")
        self.pending = PendingOverride(index=index, price=price)
        self.error = ""
        self.changed()
        return True

    async def approve(self, supervisor_code: str, pin: str) -> bool:
        """Check the supervisor's PIN with the server and apply the pending price."""
        pending = self.pending
        if pending is None:
            return False
        if not supervisor_code.strip() or not pin.strip():
            return self._fail("ticket.override_needs")
        try:
            who = await self._auth.check_supervisor(supervisor_code.strip().upper(), pin.strip())
        except Refused as exc:
            self.error = exc.message
            self.changed()
            return False
        except Unreachable:
            return self._fail("error.network")
        if who.role not in SUPERVISOR_ROLES:
            self.error = translator.tr("ticket.override_not_supervisor", name=who.name)
            self.changed()
            return False
        line = self.lines[pending.index]
        self.lines[pending.index] = replace(line, unit_price=pending.price, override_by=who)
        self.pending = None
        self.error = ""
        self.changed()
        return True

    def cancel_override(self) -> None:
        self.pending = None
        self.changed()

    # --- member, totals ---------------------------------------------------------------------------

    def attach(self, member: MemberCard | None) -> None:
        self.member = member
        self.changed()

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)

    @property
    def item_count(self) -> int:
        return sum(line.qty for line in self.lines)

    def clear(self) -> None:
        self.lines.clear()
        self.member = None
        self.pending = None
        self.error = ""
        self.changed()

    # --- issue ------------------------------------------------------------------------------------

    def draft(self, ticket_id: uuid.UUID, number: str) -> TicketDraft:
        approvers = {line.override_by.staff_id for line in self.lines if line.override_by}
        return TicketDraft(
            id=ticket_id,
            store_id=self._device.store_id,
            counter_id=self._device.counter_id,
            number=number,
            lines=[
                TicketLine(
                    line_no=n,
                    product_id=line.item.product_id,
                    sku=line.item.sku,
                    name=line.item.name_zh,
                    qty=line.qty,
                    list_price=line.item.list_price,
                    unit_price=line.unit_price,
                    promo=line.promo,
                    line_total=line.total,
                )
                for n, line in enumerate(self.lines, start=1)
            ],
            total=self.total,
            member_id=self.member.member_id if self.member else None,
            staff_id=self.staff.staff_id if self.staff else None,
            issued_at_ms=int(time.time() * 1000),
            # One approver per ticket on the wire; several overrides on one ticket share the first.
            override_approved_by=min(approvers) if approvers else None,
        )

    def issue(self) -> LocalTicket | None:
        """Save the ticket and its command locally (works offline); the builder starts afresh."""
        if self.staff is None:
            self._fail("ticket.not_signed_in")
            return None
        if not self.lines:
            self._fail("ticket.nothing")
            return None
        ticket = self._book.issue(self.draft(new_id(), self._book.next_number()))
        self.clear()
        return ticket

    # --- view text --------------------------------------------------------------------------------

    def line_text(self, index: int) -> tuple[str, str]:
        """(name and details, line total) in the current language."""
        line = self.lines[index]
        t = translator
        parts = [f"{line.item.name(t.language)}  ×{line.qty}  @{fmt(line.unit_price)}"]
        if line.override_by is not None:
            parts.append(t.tr("ticket.override_mark", name=line.override_by.name))
        elif line.promo:
            parts.append(t.tr("ticket.promo"))
        return "  ".join(parts), fmt(line.total)

    @property
    def total_text(self) -> str:
        return translator.tr("ticket.total", total=fmt(self.total))

    @property
    def pending_text(self) -> str:
        return translator.tr("ticket.override_pending", price=fmt(self.pending.price)) if self.pending else ""

    def _fail(self, key: str) -> bool:
        self.error = translator.tr(key)
        self.changed()
        return False
