"""A supervisor's exception queue at the till: open it with staff number and PIN, read the fix (the cash
to give back), make it, resolve with a note. Leaving the screen forgets the PIN."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from cashier_app.presenters.exceptions import ExceptionsPresenter
from client_common.i18n import translator
from client_common.ui.lang import T
from client_common.ui.tasks import spawn

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

translator.add({"en": {"nav.exceptions": "Exceptions"}, "zh": {"nav.exceptions": "异常"}})


class ExceptionRowView(BoxLayout):  # type: ignore[misc]
    pass


class ExceptionsScreen(Screen):  # type: ignore[misc]
    def __init__(self, presenter: ExceptionsPresenter, go: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(name="exceptions", **kwargs)
        self.presenter = presenter
        self._go = go
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        T.bind(lang=lambda *_: self._redraw())
        self.redraw()

    def on_enter(self, *_: Any) -> None:
        self.ids.supervisor.focus = True

    def on_leave(self, *_: Any) -> None:
        self.presenter.lock()

    def leave(self) -> None:
        self._go("checkout")

    def unlock(self) -> None:
        spawn(self._unlock())

    async def _unlock(self) -> None:
        ids = self.ids
        await self.presenter.unlock(ids.supervisor.text, ids.pin.text)
        ids.pin.text = ""

    def resolve(self, index: int, note: str) -> None:
        spawn(self.presenter.resolve(index, note))

    def redraw(self) -> None:
        p = self.presenter
        rows = self.ids.rows
        rows.clear_widgets()
        for row in p.rows:
            view = ExceptionRowView()
            view.ids.title.text = row.title
            view.ids.where.text = row.where
            view.ids.fix.text = row.fix
            view.ids.resolve.disabled = p.busy or bool(p.unavailable)
            view.ids.resolve.bind(on_release=lambda _w, i=row.index, v=view: self.resolve(i, v.ids.note.text))
            rows.add_widget(view)
        self.ids.supervisor.disabled = p.unlocked
        self.ids.open.disabled = p.unlocked or bool(p.unavailable)
        self.ids.message.text = p.message or p.unavailable


def nav_button(go: Callable[[str], None]) -> Button:
    """The checkout screen's way here, added to its top bar by the app."""
    button = Button(font_size="17sp", background_normal="", background_color=(0.25, 0.27, 0.32, 1))
    button.text = translator.tr("nav.exceptions")
    T.bind(lang=lambda *_: setattr(button, "text", translator.tr("nav.exceptions")))
    button.bind(on_release=lambda *_: go("exceptions"))
    return button
