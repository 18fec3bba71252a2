"""Open the shift with the float; X report any time; close with the counted cash (Z report)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from cashier_app.presenters.shift import ShiftPresenter
from client_common.i18n import translator
from client_common.ui.lang import T
from client_common.ui.tasks import spawn

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class ShiftScreen(Screen):  # type: ignore[misc]
    def __init__(
        self, presenter: ShiftPresenter, go: Callable[[str], None], sign_out: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(name="shift", **kwargs)
        self.presenter = presenter
        self._go = go
        self._sign_out = sign_out
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        T.bind(lang=lambda *_: self._redraw())
        self.redraw()

    def on_enter(self, *_: Any) -> None:
        (self.ids.counted if self.presenter.shift else self.ids.float_amount).focus = True

    def open_shift(self) -> None:
        spawn(self._open())

    async def _open(self) -> None:
        if await self.presenter.open(self.ids.float_amount.text):
            self.ids.float_amount.text = ""
            self._go("checkout")

    def x_report(self) -> None:
        spawn(self.presenter.x_report())

    def print_report(self) -> None:
        self.presenter.print_report()

    def close_shift(self) -> None:
        spawn(self.presenter.close(self.ids.counted.text))

    def show_who(self, text: str) -> None:
        self.ids.who.text = text

    def redraw(self) -> None:
        p = self.presenter
        is_open = p.shift is not None
        self.ids.open.disabled = is_open or p.busy
        self.ids.float_amount.disabled = is_open
        self.ids.x.disabled = not is_open or p.busy
        self.ids.close.disabled = not is_open or p.busy
        self.ids.counted.disabled = not is_open
        self.ids.to_till.disabled = not is_open
        self.ids.message.text = p.message
        self.ids.report_title.text = p.report_title
        self.ids.print_report.disabled = not p.can_print or p.busy
        grid = self.ids.report
        grid.clear_widgets()
        if p.report is None:
            return
        for head in translator.tr("shift.head").split("|"):
            grid.add_widget(Factory.ReportCell(text=head, bold=True))
        for row in p.rows:
            for value in (row.tender, row.sales, row.refunds, row.expected, row.counted, row.difference):
                grid.add_widget(Factory.ReportCell(text=value))
