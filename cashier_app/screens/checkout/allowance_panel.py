"""The small *offline balance* panel under the member's balances on the till screen: choose a kind, type
an amount (empty: all of it), **Reserve for offline**; what this till holds for the member is on the line
below (also offline, when it is what can still be spent). Shown only while the basket has a member."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty
from kivy.uix.boxlayout import BoxLayout

from cashier_app.presenters.allowances import ReserveAllowance
from client_common.ui.lang import T
from client_common.ui.tasks import spawn

Builder.load_string(
    """
#:import T client_common.ui.lang.T

<AllowancePanel>:
    orientation: "vertical"
    size_hint_y: None
    height: dp(80) if self.shown else 0
    opacity: 1 if self.shown else 0
    disabled: not self.shown
    spacing: "2dp"
    BoxLayout:
        spacing: "4dp"
        size_hint_y: None
        height: "44dp"
        Button:
            id: kind
            font_size: "16sp"
            size_hint_x: 0.28
            background_normal: ""
            background_color: 0.25, 0.27, 0.32, 1
            on_release: root.presenter.next_kind()
        TextInput:
            id: amount
            multiline: False
            font_size: "18sp"
            size_hint_x: 0.22
            hint_text: T.t("allowance.amount_hint", T.lang)
            on_text_validate: root.reserve()
        Button:
            id: reserve
            text: T.t("allowance.reserve", T.lang)
            font_size: "16sp"
            background_normal: ""
            background_color: 0.16, 0.38, 0.70, 1
            on_release: root.reserve()
        Button:
            id: give_back
            text: T.t("allowance.give_back", T.lang)
            font_size: "16sp"
            size_hint_x: 0.25
            on_release: root.give_back()
    Label:
        id: note
        font_size: "14sp"
        color: 0.75, 0.85, 1, 1
        text_size: self.size
        halign: "left"
        valign: "middle"
        shorten: True
"""
)


class AllowancePanel(BoxLayout):  # type: ignore[misc]
    shown = BooleanProperty(False)

    def __init__(self, presenter: ReserveAllowance, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.presenter = presenter
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        T.bind(lang=lambda *_: self._redraw())
        self.redraw()

    def reserve(self) -> None:
        spawn(self._reserve(self.ids.amount.text))

    async def _reserve(self, text: str) -> None:
        if await self.presenter.reserve(text):
            self.ids.amount.text = ""

    def give_back(self) -> None:
        spawn(self.presenter.give_back())

    def redraw(self) -> None:
        p = self.presenter
        self.shown = p.visible
        if not p.visible:
            return
        why = p.unavailable()
        self.ids.kind.text = p.kind_text
        self.ids.reserve.disabled = bool(why) or p.busy
        self.ids.give_back.disabled = bool(why) or p.busy or not p.held()
        self.ids.note.text = p.message or p.summary
