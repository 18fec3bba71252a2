"""The admin pages: HTML shells rendered with Jinja2, holding words and layout but never store data.

Every figure on a page comes from the JSON API, called by the page's script with the signed-in
manager's bearer token; so the shells can be public and still show nothing to a stranger.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from litestar import Litestar

from server.admin.i18n import WORDS, Lang

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_PREFIX = "/admin/static"

# Nothing outside this server: scripts, styles, images and API calls all come from 'self'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


# The reports the reports page draws (its script holds one entry for each).
REPORTS = (
    "categories",
    "promotion/categories",
    "promotion/members",
    "sales-structure",
    "member-contribution",
    "member-potential",
    "rfm/segments",
    "customer-states/summary",
    "concessions",
)


@dataclass(frozen=True)
class Page:
    key: str  # the address /admin/<key>, the template <key>.html and the script <key>.js
    needs: tuple[str, ...] = ()  # API paths that must be served for the page to be offered
    in_nav: bool = True


PAGES: dict[str, Page] = {
    p.key: p
    for p in (
        Page("sign-in", in_nav=False),
        Page("dashboard", needs=("/api/admin/dashboard",)),
        Page("catalog", needs=("/catalog/products",)),
        Page("staff", needs=("/staff",)),
        Page("devices", needs=("/devices",)),
        Page("loyalty", needs=("/api/admin/loyalty/rules",)),
        Page("exceptions", needs=("/payments/unresolved", "/exceptions")),
        Page("reports", needs=tuple(f"/api/admin/reports/{r}" for r in REPORTS)),
        Page("segments", needs=("/api/admin/segments/preview", "/api/admin/segments")),
        Page("tasks", needs=("/api/admin/campaigns", "/api/admin/campaigns/results")),
    )
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def served_paths(app: Litestar) -> set[str]:
    return {route.path for route in app.routes}


def available(app: Litestar) -> list[Page]:
    """The pages whose API this server has (a page whose back end is missing is not offered)."""
    paths = served_paths(app)
    return [p for p in PAGES.values() if all(n in paths for n in p.needs)]


def render(app: Litestar, page: Page, lang: Lang) -> str:
    words = WORDS[lang]

    def t(key: str) -> str:
        return words.get(key, key)

    template = _env.get_template(f"{page.key}.html")
    context: dict[str, Any] = {
        "page": page,
        "lang": lang,
        "other_lang": "en" if lang == "zh" else "zh",
        "t": t,
        "words": words,
        "nav": [p for p in available(app) if p.in_nav],
        "static": STATIC_PREFIX,
    }
    return template.render(context)
