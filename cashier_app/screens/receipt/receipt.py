"""The receipt on screen after a checkout: its signed QR large, the change larger still."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.core.window import Window
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from cashier_app.presenters.receipt import ReceiptView
from client_common.ui.qr_texture import qr_texture

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

ENTER_KEYS = (13, 271)


class ReceiptScreen(Screen):  # type: ignore[misc]
    def __init__(self, next_customer: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(name="receipt", **kwargs)
        self._next = next_customer
        self.view: ReceiptView | None = None

    def show(self, view: ReceiptView) -> None:
        self.view = view
        self.ids.qr.texture = qr_texture(view.qr)
        self.ids.title.text = view.title
        self.ids.total.text = view.total
        self.ids.change.text = view.change
        self.ids.tenders.text = "\n".join(f"{label}   {amount}" for label, amount in view.tenders)
        self.ids.tickets.text = view.tickets
        self.ids.note.text = view.note

    def on_enter(self, *_: Any) -> None:
        Window.bind(on_key_down=self._key)

    def on_leave(self, *_: Any) -> None:
        Window.unbind(on_key_down=self._key)

    def _key(self, _window: Any, key: int, *_: Any) -> bool:
        if key in ENTER_KEYS:
            self.next_customer()
            return True
        return False

    def next_customer(self) -> None:
        self._next()
