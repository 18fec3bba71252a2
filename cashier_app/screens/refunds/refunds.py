"""Find the sale by receipt QR or number, tap the lines that come back, refund (approval above the limit)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from cashier_app.presenters.refunds import RefundPresenter
from client_common.ui.lang import T
from client_common.ui.tasks import spawn

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class RefundRowView(BoxLayout):  # type: ignore[misc]
    pass


class RefundsScreen(Screen):  # type: ignore[misc]
    def __init__(self, presenter: RefundPresenter, go: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(name="refunds", **kwargs)
        self.presenter = presenter
        self._go = go
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        T.bind(lang=lambda *_: self._redraw())
        self.redraw()

    def on_enter(self, *_: Any) -> None:
        self.ids.receipt.focus = True

    def find(self) -> None:
        text = self.ids.receipt.text
        self.ids.receipt.text = ""
        spawn(self.presenter.find(text))

    def refund(self) -> None:
        spawn(self._refund())

    async def _refund(self) -> None:
        ids = self.ids
        if await self.presenter.refund(ids.reason.text, ids.supervisor.text, ids.pin.text) is not None:
            ids.reason.text = ids.supervisor.text = ids.pin.text = ""
        ids.pin.text = ""

    def redraw(self) -> None:
        p = self.presenter
        rows = self.ids.rows
        rows.clear_widgets()
        for row in p.rows:
            view = RefundRowView()
            view.ids.pick.text = row.text
            view.ids.pick.state = "down" if row.chosen_qty else "normal"
            view.ids.pick.disabled = row.max_qty == 0
            view.ids.qty.text = str(row.chosen_qty) if row.chosen_qty else ""
            view.ids.qty.hint_text = f"≤{row.max_qty}"
            view.ids.amount.text = row.amount
            view.ids.pick.bind(on_release=lambda _w, i=row.index: p.toggle(i))
            view.ids.qty.bind(on_text_validate=lambda w, i=row.index: p.set_qty(i, w.text or "0"))
            rows.add_widget(view)
        self.ids.amount.text = p.amount_text if p.sold else ""
        self.ids.approval.text = p.approval_text if p.needs_approval else ""
        self.ids.supervisor.disabled = self.ids.pin.disabled = not p.needs_approval
        self.ids.submit.disabled = bool(p.unavailable) or not p.chosen or p.busy
        self.ids.message.text = p.message or p.unavailable
