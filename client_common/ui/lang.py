"""The language switch as a Kivy property, so labels bound in kv change live.

In kv: ``#:import T client_common.ui.lang.T`` then ``text: T.t("signin.title", T.lang)``; passing
``T.lang`` makes kv re-evaluate the text whenever the language changes.
"""

from __future__ import annotations

from typing import Any

from kivy.event import EventDispatcher
from kivy.properties import StringProperty

from client_common.i18n import translator


class LiveLanguage(EventDispatcher):  # type: ignore[misc]
    lang = StringProperty(translator.language)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        translator.subscribe(self._switched)

    def _switched(self, language: str) -> None:
        self.lang = language

    def t(self, key: str, _lang: str = "", **values: Any) -> str:
        return translator.tr(key, **values)


T = LiveLanguage()
