"""The issued ticket, full screen: the QR code with the ticket number and the total."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from client_common.ui.qr_texture import qr_texture
from handheld_app.presenters.issued import IssuedView

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class TicketQrScreen(Screen):  # type: ignore[misc]
    def __init__(
        self, go: Callable[[str], None], pay: Callable[[uuid.UUID], None] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name="ticket_qr", **kwargs)
        self._go = go
        self._pay = pay
        self.view: IssuedView | None = None
        if pay is None:  # no one-stop payment on this handheld
            self.ids.buttons.remove_widget(self.ids.pay)

    def show(self, view: IssuedView) -> None:
        self.view = view
        self.ids.qr.texture = qr_texture(view.qr)
        self.ids.title.text = view.title
        self.ids.total.text = view.total
        self.ids.hint.text = view.hint

    def pay(self) -> None:
        if self._pay is not None and self.view is not None and self.view.ticket_id is not None:
            self._pay(self.view.ticket_id)
