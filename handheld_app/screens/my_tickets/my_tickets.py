"""My tickets with live status; release goods when paid (live, or by the customer's receipt QR); void."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from client_common.i18n import translator
from client_common.ui.lang import T
from handheld_app.presenters.my_tickets import MyTickets

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

STATE_COLOURS = {
    "issued": (0.85, 0.65, 0.1, 1),
    "paid": (0.2, 0.75, 0.3, 1),
    "released": (0.5, 0.5, 0.55, 1),
    "voided": (0.8, 0.3, 0.3, 1),
    "expired": (0.5, 0.4, 0.4, 1),
    "partly_refunded": (0.75, 0.45, 0.15, 1),
    "refunded": (0.6, 0.35, 0.5, 1),
    "refused": (1, 0.35, 0.35, 1),
}


class TicketRowView(BoxLayout):  # type: ignore[misc]
    pass


class MyTicketsScreen(Screen):  # type: ignore[misc]
    def __init__(
        self,
        presenter: MyTickets,
        go: Callable[[str], None],
        pay: Callable[[uuid.UUID], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name="my_tickets", **kwargs)
        self.presenter = presenter
        self._go = go
        self._pay = pay
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        T.bind(lang=lambda *_: presenter.refresh())

    def on_pre_enter(self, *_: Any) -> None:
        self.presenter.message = ""
        self.presenter.refresh()

    def receipt_scanned(self) -> None:
        self.presenter.release_by_receipt(self.ids.receipt.text)
        self.ids.receipt.text = ""

    def redraw(self) -> None:
        p = self.presenter
        rows = self.ids.rows
        rows.clear_widgets()
        if not p.rows:
            rows.add_widget(Label(text=translator.tr("tickets.empty"), font_size="18sp", size_hint_y=None, height=80))
        for row in p.rows:
            view = TicketRowView()
            view.ids.title.text = row.title
            view.ids.detail.text = row.detail
            view.ids.state.text = row.state
            view.ids.state.color = STATE_COLOURS.get(row.state_key, (1, 1, 1, 1))
            view.ids.release.disabled = not row.can_release
            view.ids.void.disabled = not row.can_void
            view.ids.release.bind(on_release=lambda _w, tid=row.ticket.id: p.release(tid))
            view.ids.void.bind(on_release=lambda _w, tid=row.ticket.id: p.void(tid))
            if self._pay is None:
                view.remove_widget(view.ids.pay)
            else:
                view.ids.pay.disabled = not row.can_pay
                view.ids.pay.bind(on_release=lambda _w, tid=row.ticket.id, pay=self._pay: pay(tid))
            rows.add_widget(view)
        self.ids.message.text = p.message
