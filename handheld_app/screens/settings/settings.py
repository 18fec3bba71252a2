"""Settings: server address, language, sign out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from handheld_app.presenters.settings import SettingsPresenter

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class SettingsScreen(Screen):  # type: ignore[misc]
    def __init__(
        self,
        presenter: SettingsPresenter,
        go: Callable[[str], None],
        sign_out: Callable[[], None],
        server_changed: Callable[[str], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(name="settings", **kwargs)
        self.presenter = presenter
        self._go = go
        self._sign_out = sign_out
        self._server_changed = server_changed
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)

    def on_pre_enter(self, *_: Any) -> None:
        self.ids.server.text = self.presenter.prefs.server_url
        self.presenter.message = ""
        self.redraw()

    def save(self) -> None:
        if self.presenter.save_server(self.ids.server.text):
            self._server_changed(self.presenter.prefs.server_url)

    def redraw(self) -> None:
        self.ids.message.text = self.presenter.message
