"""Search or scan products and build the ticket: the screen a sales assistant lives on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.popup import Popup
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401  (BigButton, BigInput in the kv)
from client_common.i18n import translator
from client_common.ui.lang import T
from client_common.ui.tasks import spawn
from handheld_app.presenters.member import MemberPresenter
from handheld_app.presenters.ports import CatalogItem
from handheld_app.presenters.product_search import ProductSearch
from handheld_app.presenters.ticket_builder import TicketBuilder

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class LineRow(BoxLayout):  # type: ignore[misc]
    pass


class ResultRow(Button):  # type: ignore[misc]
    pass


class OverridePopup(Popup):  # type: ignore[misc]
    def __init__(self, builder: TicketBuilder, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.builder = builder
        self.index = index
        self.title = builder.line_text(index)[0]

    def approve(self) -> None:
        spawn(self._approve())

    async def _approve(self) -> None:
        b = self.builder
        if (b.pending is None or b.pending.index != self.index) and not b.request_override(
            self.index, self.ids.price.text
        ):
            self.ids.error.text = b.error
            return
        if await b.approve(self.ids.supervisor.text, self.ids.pin.text):
            self.dismiss()
        else:
            self.ids.error.text = b.error
            if b.pending is None:
                return

    def on_dismiss(self) -> None:
        if self.builder.pending is not None:
            self.builder.cancel_override()


class SellScreen(Screen):  # type: ignore[misc]
    def __init__(
        self,
        builder: TicketBuilder,
        search: ProductSearch,
        member: MemberPresenter,
        go: Callable[[str], None],
        on_issue: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(name="sell", **kwargs)
        self.builder = builder
        self.search = search
        self.member = member
        self._go = go
        self._on_issue = on_issue
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        builder.observe(self._redraw)
        search.observe(self._redraw)
        T.bind(lang=lambda *_: self._redraw())
        self.redraw()

    def on_enter(self, *_: Any) -> None:
        Clock.schedule_once(lambda _dt: setattr(self.ids.scan, "focus", True), 0)

    # --- scanner / keyboard ------------------------------------------------------------------------

    def typed(self, text: str) -> None:
        self.search.on_text(text)

    def entered(self) -> None:
        field = self.ids.scan
        if self.search.on_enter(field.text):
            field.text = ""
        # Keep the focus so the next scan goes straight in.
        Clock.schedule_once(lambda _dt: setattr(field, "focus", True), 0)

    def pick(self, item: CatalogItem) -> None:
        self.search.pick(item)
        self.ids.scan.text = ""

    # --- lines ------------------------------------------------------------------------------------

    def override(self, index: int) -> None:
        OverridePopup(self.builder, index).open()

    def issue(self) -> None:
        self._on_issue()

    def redraw(self) -> None:
        b, s = self.builder, self.search
        area = self.ids.area
        area.clear_widgets()
        if s.results:
            for item in s.results:
                name, price = s.result_text(item)
                row = ResultRow(text=f"{name}    {price}")
                row.bind(on_release=lambda _w, it=item: self.pick(it))
                area.add_widget(row)
        elif not b.lines:
            area.add_widget(Label(text=translator.tr("ticket.empty"), font_size="18sp", size_hint_y=None, height=80))
        for i in range(len(b.lines)) if not s.results else ():
            text, total = b.line_text(i)
            row = LineRow()
            row.ids.text.text = text
            row.ids.total.text = total
            row.ids.minus.bind(on_release=lambda _w, n=i: b.step_qty(n, -1))
            row.ids.plus.bind(on_release=lambda _w, n=i: b.step_qty(n, +1))
            row.ids.price.bind(on_release=lambda _w, n=i: self.override(n))
            row.ids.drop.bind(on_release=lambda _w, n=i: b.remove(n))
            area.add_widget(row)
        self.ids.message.text = b.error or s.message
        self.ids.total.text = b.total_text
        self.ids.member.text = (
            MemberPresenter.card_text(b.member).replace("\n", "  ") if b.member else translator.tr("member.title")
        )
        self.ids.issue.disabled = not b.lines
