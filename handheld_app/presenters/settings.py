"""Settings: the server address and the language, kept in the device preferences."""

from __future__ import annotations

from pathlib import Path

from client_common import prefs
from client_common.i18n import LANGUAGES, translator
from client_common.presenters.observable import Observable

translator.add(
    {
        "en": {
            "settings.title": "Settings",
            "settings.server": "Server address",
            "settings.save": "Save",
            "settings.saved": "Saved.",
            "settings.restart": "Saved; the app reconnects to the new server.",
        },
        "zh": {
            "settings.title": "设置",
            "settings.server": "服务器地址",
            "settings.save": "保存",
            "settings.saved": "已保存。",
            "settings.restart": "已保存；将重新连接新服务器。",
        },
    }
)


class SettingsPresenter(Observable):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self.prefs = prefs.load(path)
        self.message = ""
        translator.set_language(self.prefs.language)

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(language)
        translator.set_language(language)
        self.prefs.language = language
        prefs.save(self._path, self.prefs)
        self.changed()

    def save_server(self, text: str) -> bool:
        """Keep a new server address; True when it changed (the transport must reconnect)."""
        url = prefs.normalise_server_url(text)
        if url is None:
            self.message = translator.tr("enroll.bad_server")
            self.changed()
            return False
        changed = url != self.prefs.server_url
        self.prefs.server_url = url
        prefs.save(self._path, self.prefs)
        self.message = translator.tr("settings.restart" if changed else "settings.saved")
        self.changed()
        return changed
