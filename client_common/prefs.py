"""Small device preferences (server address, language) in one JSON file, replaced atomically.

Only tiny settings live here; tickets, outbox and catalog live in the SQLite store.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from client_common.i18n import DEFAULT_LANGUAGE, LANGUAGES

DEFAULT_SERVER = "http://127.0.0.1:8000"


@dataclass
class Prefs:
    server_url: str = DEFAULT_SERVER
    language: str = DEFAULT_LANGUAGE


def load(path: Path) -> Prefs:
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return Prefs()
    prefs = Prefs()
    if isinstance(raw, dict):
        if isinstance(raw.get("server_url"), str):
            prefs.server_url = raw["server_url"]
        if raw.get("language") in LANGUAGES:
            prefs.language = raw["language"]
    return prefs


def save(path: Path, prefs: Prefs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(prefs), ensure_ascii=False), "utf-8")
    os.replace(tmp, path)


def normalise_server_url(text: str) -> str | None:
    """``http(s)://host[:port]`` without a trailing slash, or None when it cannot be a server address."""
    url = text.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest or "/" in rest or " " in rest:
        return None
    host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    if not host or (port and (not port.isdigit() or not 0 < int(port) < 65536)):
        return None
    return f"{scheme}://{rest}"
