"""The till's main screen: live queue, the customer's basket, and the tenders, side by side.

Keyboard and scanner first: the scan field keeps the focus (a scanner types the code and Enter);
Enter in the amount field takes it as cash; F2-F7 take the tenders, F9 settles.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401  (BigButton, BigInput, WrapLabel in the kv)
from cashier_app.presenters.basket import Basket
from cashier_app.presenters.queue import QueueGroup, TicketQueue
from cashier_app.presenters.tenders import MEMBER, PROVIDER, Payment, kind_name
from client_common.i18n import translator
from client_common.ui.lang import T
from client_common.ui.tasks import spawn
from protocol.payments import TenderKind

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

KINDS: tuple[TenderKind, ...] = ("cash", "card", "wallet", "stored_value", "ecoin", "points")
F_KEYS = {283: "cash", 284: "card", 285: "wallet", 286: "stored_value", 287: "ecoin", 288: "points"}
F9 = 290

translator.add(
    {
        "en": {
            "nav.shift": "Shift · X/Z",
            "nav.refunds": "Refunds",
            "nav.top_up": "Top-up",
            "nav.checkout": "Till",
            "pay.amount_hint": "Amount in yuan (empty: all that remains) · Enter = cash",
            "till.cashier": "{name} · {till}",
        },
        "zh": {
            "nav.shift": "班次 · X/Z",
            "nav.refunds": "退款",
            "nav.top_up": "充值",
            "nav.checkout": "收银",
            "pay.amount_hint": "金额（元，空=剩余全部）· 回车=现金",
            "till.cashier": "{name} · {till}",
        },
    }
)


class QueueGroupView(Button):  # type: ignore[misc]
    pass


class BasketRowView(BoxLayout):  # type: ignore[misc]
    pass


class TenderRowView(BoxLayout):  # type: ignore[misc]
    pass


class CheckoutScreen(Screen):  # type: ignore[misc]
    def __init__(
        self,
        basket: Basket,
        payment: Payment,
        queue: TicketQueue,
        go: Callable[[str], None],
        on_settled: Callable[[], None],
        sign_out: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(name="checkout", **kwargs)
        self.basket = basket
        self.payment = payment
        self.queue = queue
        self._go = go
        self._on_settled = on_settled
        self._sign_out = sign_out
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        self._redraw_queue = Clock.create_trigger(lambda _dt: self.redraw_queue())
        basket.observe(self._redraw)
        payment.observe(self._redraw)
        queue.observe(self._redraw_queue)
        T.bind(lang=lambda *_: (self._redraw(), self._redraw_queue()))
        self.redraw()
        self.redraw_queue()

    # --- keyboard ---------------------------------------------------------------------------------

    def on_enter(self, *_: Any) -> None:
        Window.bind(on_key_down=self._key)
        self.ids.scan.focus = True

    def on_leave(self, *_: Any) -> None:
        Window.unbind(on_key_down=self._key)

    def _key(self, _window: Any, key: int, *_: Any) -> bool:
        if key in F_KEYS:
            self.tender(F_KEYS[key])  # type: ignore[arg-type]
            return True
        if key == F9:
            self.settle()
            return True
        return False

    # --- actions ----------------------------------------------------------------------------------

    def scan(self) -> None:
        text = self.ids.scan.text
        self.ids.scan.text = ""
        spawn(self.basket.scan(text))

    def load_group(self, group: QueueGroup) -> None:
        spawn(self.basket.scan(group.code))
        self.ids.scan.focus = True

    def tender(self, kind: TenderKind) -> None:
        amount = self.ids.amount.text
        if kind == "cash":
            ok = self.payment.add_cash(amount)
        elif kind in MEMBER:
            ok = self.payment.add_balance(kind, amount)
        else:
            spawn(self._card(kind, amount, self.ids.instrument.text))
            return
        if ok:
            self.ids.amount.text = ""
        if kind == "cash" and self.payment.complete:
            self.settle()

    async def _card(self, kind: TenderKind, amount: str, instrument: str) -> None:
        if await self.payment.take_card(kind, instrument, amount):
            self.ids.amount.text = ""
            self.ids.instrument.text = ""

    def check_pending(self) -> None:
        spawn(self.payment.check_pending())

    def settle(self) -> None:
        spawn(self._settle())

    async def _settle(self) -> None:
        if await self.payment.settle() is not None:
            self._on_settled()

    def switch_language(self) -> None:
        translator.set_language("en" if translator.language == "zh" else "zh")

    # --- drawing ----------------------------------------------------------------------------------

    def redraw(self) -> None:
        b, p = self.basket, self.payment
        self.ids.member.text = b.member_text if b.tickets else ""
        self.ids.balances.text = b.balances_text
        rows = self.ids.rows
        rows.clear_widgets()
        for row in b.rows:
            view = BasketRowView()
            view.ids.title.text = row.title
            view.ids.detail.text = row.detail
            view.ids.total.text = row.total
            view.ids.drop.bind(on_release=lambda _w, tid=row.ticket_id: b.remove(tid))
            rows.add_widget(view)
        self.ids.total.text = b.total_text if b.tickets else translator.tr("basket.empty")
        self.ids.basket_message.text = b.message
        self.ids.remaining.text = p.remaining_text
        self.ids.change.text = p.change_text
        reasons: list[str] = []
        for kind in KINDS:
            button = self.ids[kind]
            why = p.unavailable(kind)
            button.text = kind_name(kind) + f"  F{KINDS.index(kind) + 2}"
            button.disabled = bool(why) or p.busy or (kind in PROVIDER and p.pending is not None)
            if why and why not in reasons and b.tickets:
                reasons.append(why)
        self.ids.why.text = "\n".join(reasons)
        tenders = self.ids.tenders
        tenders.clear_widgets()
        for tender in p.rows:
            line = TenderRowView()
            line.ids.label.text = tender.label
            line.ids.amount.text = tender.amount
            line.ids.drop.disabled = not tender.removable
            line.ids.drop.bind(on_release=lambda _w, tid=tender.tender_id: p.remove(tid))
            tenders.add_widget(line)
        self.ids.check.disabled = p.pending is None
        self.ids.check.opacity = 1 if p.pending is not None else 0.3
        self.ids.settle.disabled = not p.complete or p.busy
        self.ids.pay_message.text = p.message
        self.ids.instrument.hint_text = p.instrument_hint

    def redraw_queue(self) -> None:
        self.ids.queue_summary.text = self.queue.summary
        box = self.ids.queue
        box.clear_widgets()
        for group in self.queue.groups:
            view = QueueGroupView(text=f"[b]{group.title}   {group.total_text}[/b]\n{group.detail}")
            view.bind(on_release=lambda _w, g=group: self.load_group(g))
            box.add_widget(view)

    def show_cashier(self, text: str) -> None:
        self.ids.cashier.text = text
