"""Staff sign-in with staff number and PIN."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401  (BigButton, BigInput in the kv)
from client_common.presenters.sign_in import SignInPresenter
from client_common.ui.tasks import spawn

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class SignInScreen(Screen):  # type: ignore[misc]
    def __init__(self, presenter: SignInPresenter, on_signed_in: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(name="sign_in", **kwargs)
        self.presenter = presenter
        self._on_signed_in = on_signed_in
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        self.redraw()

    def redraw(self) -> None:
        self.ids.error.text = self.presenter.error
        self.ids.submit.disabled = self.presenter.busy

    def on_pre_enter(self, *_: Any) -> None:
        self.ids.pin.text = ""
        self.ids.staff.focus = True

    def submit(self) -> None:
        spawn(self._submit())

    async def _submit(self) -> None:
        if await self.presenter.submit(self.ids.staff.text, self.ids.pin.text):
            self.ids.pin.text = ""
            self._on_signed_in()
