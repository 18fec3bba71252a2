"""Chinese and English text: one catalog, ``tr(key)``, and a language switch listeners can follow.

Pure Python (no Kivy) so presenters can use it; ``client_common.ui.lang`` turns the switch into a
Kivy property so every label bound in kv follows it live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# Text both apps use. Each app adds its own keys with ``translator.add``.
COMMON: dict[str, dict[str, str]] = {
    "en": {
        "app.language": "Language",
        "lang.zh": "中文",
        "lang.en": "English",
        "common.ok": "OK",
        "common.cancel": "Cancel",
        "common.back": "Back",
        "common.busy": "Working…",
        "enroll.title": "Enroll this device",
        "enroll.server": "Server address",
        "enroll.code": "Enrollment code from a manager",
        "enroll.submit": "Enroll",
        "enroll.done": "Enrolled as {label}",
        "enroll.need_code": "Enter the enrollment code a manager gave you.",
        "enroll.bad_server": "The server address must look like http://192.168.1.10:8000.",
        "signin.title": "Staff sign-in",
        "signin.staff": "Staff number",
        "signin.pin": "PIN",
        "signin.submit": "Sign in",
        "signin.need_both": "Enter your staff number and PIN.",
        "signin.signed_in": "Signed in: {name}",
        "signin.sign_out": "Sign out",
        "conn.online": "Online",
        "conn.offline": "Offline – tickets are kept and sent later",
        "conn.connecting": "Connecting…",
        "conn.outbox": "{count} waiting to send",
        "conn.outbox_empty": "All sent",
        "conn.dead": "{count} refused by the server",
        "conn.dead_item": "{what}: {message}",
        "conn.show": "Details",
        "conn.catalog": "Catalog {done} / {total}",
        "advice.default": "Show this to a supervisor; the other tickets keep sending.",
        "advice.device_revoked": "This device was revoked: ask a manager to enroll it again.",
        "advice.unauthenticated": "Sign in again, then the waiting tickets are sent.",
        "advice.validation_failed": "Issue the ticket again with correct figures; void the refused one.",
        "advice.conflict": "Check the ticket in My tickets and ask a supervisor.",
        "advice.not_found": "The ticket is unknown to the server; ask a supervisor.",
        "error.network": "The server cannot be reached. Check the Wi-Fi and the server address.",
    },
    "zh": {
        "app.language": "语言",
        "lang.zh": "中文",
        "lang.en": "English",
        "common.ok": "确定",
        "common.cancel": "取消",
        "common.back": "返回",
        "common.busy": "处理中…",
        "enroll.title": "登记本设备",
        "enroll.server": "服务器地址",
        "enroll.code": "店长给的登记码",
        "enroll.submit": "登记",
        "enroll.done": "已登记为 {label}",
        "enroll.need_code": "请输入店长给您的登记码。",
        "enroll.bad_server": "服务器地址格式应为 http://192.168.1.10:8000。",
        "signin.title": "员工登录",
        "signin.staff": "工号",
        "signin.pin": "密码",
        "signin.submit": "登录",
        "signin.need_both": "请输入工号和密码。",
        "signin.signed_in": "已登录：{name}",
        "signin.sign_out": "退出",
        "conn.online": "在线",
        "conn.offline": "离线 – 小票已保存，联网后自动发送",
        "conn.connecting": "正在连接…",
        "conn.outbox": "{count} 条待发送",
        "conn.outbox_empty": "已全部发送",
        "conn.dead": "{count} 条被服务器拒绝",
        "conn.dead_item": "{what}：{message}",
        "conn.show": "详情",
        "conn.catalog": "商品目录 {done} / {total}",
        "advice.default": "请交给主管处理；其他小票会继续发送。",
        "advice.device_revoked": "本设备已被停用：请店长重新登记。",
        "advice.unauthenticated": "请重新登录，待发送的小票随后发出。",
        "advice.validation_failed": "请按正确金额重新开单，并作废被拒绝的小票。",
        "advice.conflict": "请在“我的小票”中核对并联系主管。",
        "advice.not_found": "服务器不认识这张小票，请联系主管。",
        "error.network": "无法连接服务器。请检查 Wi-Fi 和服务器地址。",
    },
}


class Translator:
    """Holds the catalog and the current language; tells listeners when the language changes."""

    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        self._catalog: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
        self._listeners: list[Callable[[str], None]] = []
        self.language = language
        self.add(COMMON)

    def add(self, catalog: Mapping[str, Mapping[str, str]]) -> None:
        for lang, entries in catalog.items():
            self._catalog.setdefault(lang, {}).update(entries)

    def tr(self, key: str, language: str | None = None, **values: Any) -> str:
        """The text for ``key`` in the current (or given) language; English, then the key, when missing."""
        lang = language or self.language
        text = self._catalog.get(lang, {}).get(key) or self._catalog["en"].get(key) or key
        return text.format(**values) if values else text

    def set_language(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
        if language == self.language:
            return
        self.language = language
        for listener in list(self._listeners):
            listener(language)

    def subscribe(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call ``listener(language)`` on every switch; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def keys(self, language: str) -> set[str]:
        return set(self._catalog.get(language, {}))


translator = Translator()


def tr(key: str, **values: Any) -> str:
    """Text for ``key`` in the current language."""
    return translator.tr(key, **values)
