"""Widgets both apps use: big touch targets and the connection bar that is always on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.popup import Popup
from kivy.uix.textinput import TextInput

from client_common.connection import ConnectionState, describe
from client_common.i18n import translator
from client_common.ui.lang import T

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

LEVEL_COLOURS = {"ok": (0.13, 0.55, 0.25, 1), "warn": (0.85, 0.55, 0.05, 1), "error": (0.75, 0.12, 0.12, 1)}


class BigButton(Button):  # type: ignore[misc]
    pass


class BigInput(TextInput):  # type: ignore[misc]
    pass


class WrapLabel(Label):  # type: ignore[misc]
    pass


class ConnectionBar(BoxLayout):  # type: ignore[misc]
    """Online/offline, commands waiting, and dead letters with the server's reason and what to do."""

    state = ObjectProperty(ConnectionState(), rebind=True)
    status_text = StringProperty("")
    outbox_text = StringProperty("")
    dead_text = StringProperty("")
    colour = ListProperty(list(LEVEL_COLOURS["warn"]))
    dead_count = NumericProperty(0)
    progress = NumericProperty(-1)  # catalog load 0..1, -1 when none is under way

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(state=lambda *_: self.refresh())
        T.bind(lang=lambda *_: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        text = describe(self.state)
        self.status_text, self.outbox_text, self.dead_text = text.status, text.outbox, text.dead
        if text.catalog:
            self.status_text = f"{text.status} · {text.catalog}"
        progress = self.state.catalog_progress
        self.progress = -1 if progress is None else progress
        self.colour = list(LEVEL_COLOURS[text.level])
        self.dead_count = len(self.state.dead_letters)

    def show_details(self) -> None:
        text = describe(self.state)
        body = WrapLabel(text="\n\n".join(text.details) or text.status)
        Popup(title=text.dead or text.status, content=body, size_hint=(0.95, 0.7)).open()


def language_name(code: str) -> str:
    return translator.tr(f"lang.{code}")
