"""Attach a member: scan the member's code or type the phone number; shows tier and points."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from client_common.ui.tasks import spawn
from handheld_app.presenters.member import MemberPresenter
from handheld_app.presenters.ticket_builder import TicketBuilder

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class MemberScreen(Screen):  # type: ignore[misc]
    def __init__(
        self, presenter: MemberPresenter, builder: TicketBuilder, go: Callable[[str], None], **kwargs: Any
    ) -> None:
        super().__init__(name="member", **kwargs)
        self.presenter = presenter
        self.builder = builder
        self._go = go
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        self.redraw()

    def on_enter(self, *_: Any) -> None:
        Clock.schedule_once(lambda _dt: setattr(self.ids.code, "focus", True), 0)

    def find(self) -> None:
        spawn(self.presenter.lookup(self.ids.code.text))

    def attach(self) -> None:
        if self.presenter.found is not None:
            self.builder.attach(self.presenter.found)
            self.ids.code.text = ""
            self._go("sell")

    def detach(self) -> None:
        self.builder.attach(None)
        self._go("sell")

    def redraw(self) -> None:
        p = self.presenter
        self.ids.card.text = p.card_text(p.found) if p.found else p.message
        self.ids.attach.disabled = p.found is None
        self.ids.find.disabled = p.busy
