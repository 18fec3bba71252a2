"""Enter the manager's one-time code; the device makes and keeps its key pair."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401  (BigButton, BigInput in the kv)
from client_common.presenters.enrollment import EnrollmentPresenter
from client_common.ui.tasks import spawn

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class EnrollmentScreen(Screen):  # type: ignore[misc]
    def __init__(self, presenter: EnrollmentPresenter, on_enrolled: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(name="enrollment", **kwargs)
        self.presenter = presenter
        self._on_enrolled = on_enrolled
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        self.ids.server.text = presenter.server_url
        self.redraw()

    def redraw(self) -> None:
        self.ids.error.text = self.presenter.error
        self.ids.submit.disabled = self.presenter.busy

    def submit(self) -> None:
        spawn(self._submit())

    async def _submit(self) -> None:
        if await self.presenter.submit(self.ids.server.text, self.ids.code.text):
            self._on_enrolled()
