"""Stored-value top-up: find the member, type the cash amount, top up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from cashier_app.presenters.top_up import TopUpPresenter
from client_common.ui.tasks import spawn

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class TopUpScreen(Screen):  # type: ignore[misc]
    def __init__(self, presenter: TopUpPresenter, go: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(name="top_up", **kwargs)
        self.presenter = presenter
        self._go = go
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        self.redraw()

    def on_enter(self, *_: Any) -> None:
        self.ids.code.focus = True

    def find(self) -> None:
        text = self.ids.code.text
        self.ids.code.text = ""
        spawn(self.presenter.find(text))

    def top_up(self) -> None:
        spawn(self._top_up())

    async def _top_up(self) -> None:
        if await self.presenter.top_up(self.ids.amount.text):
            self.ids.amount.text = ""

    def redraw(self) -> None:
        p = self.presenter
        self.ids.member.text = p.member_text
        self.ids.submit.disabled = p.member is None or bool(p.unavailable)
        self.ids.message.text = p.message or p.unavailable
