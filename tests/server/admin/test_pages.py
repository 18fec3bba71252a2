"""The admin pages: every page renders in Chinese and English with its heading, shells carry no store
data, every asset is served by this server and nothing on a page points at another host."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from server.admin import pages
from server.admin.i18n import WORDS, pick_lang
from server.demo import DEMO_PRODUCTS, DEMO_STAFF, DemoInfo

TITLE_KEYS = {
    "sign-in": "signin_title",
    "dashboard": "dashboard_title",
    "catalog": "catalog_title",
    "staff": "staff_title",
    "devices": "devices_title",
    "loyalty": "loyalty_title",
    "exceptions": "exceptions_title",
    "reports": "reports_title",
    "segments": "segments_title",
    "tasks": "tasks_title",
}
HEADINGS = {  # written out, so a lost translation fails here
    ("dashboard", "zh"): "今日概览",
    ("dashboard", "en"): "Today at a glance",
    ("sign-in", "zh"): "登录",
    ("sign-in", "en"): "Sign in",
    ("exceptions", "zh"): "异常队列",
    ("exceptions", "en"): "Exception queue",
}
# An XML namespace name in charts.js: an identifier, never fetched.
NAMESPACES = {"http://www.w3.org/2000/svg"}
URL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'<>)]*|https?://[^\s\"'<>)]+")


def external_urls(text: str) -> set[str]:
    return {u for u in URL.findall(text) if u not in NAMESPACES}


def h1(html: str) -> str:
    m = re.search(r"<h1>(.*?)</h1>", html, re.S)
    assert m, "no <h1>"
    return m.group(1).strip()


def assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/admin/static/[^"]+)"', html)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("key", list(TITLE_KEYS))
async def test_page_renders_in_both_languages(client: AsyncTestClient[Any], key: str, lang: str) -> None:
    r = await client.get(f"/admin/{key}", params={"lang": lang})
    if pages.PAGES[key] not in pages.available(client.app):
        assert r.status_code == 404  # its back end is not in this server: the page is not offered
        return
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert h1(html) == WORDS[lang][TITLE_KEYS[key]]
    if (key, lang) in HEADINGS:
        assert h1(html) == HEADINGS[(key, lang)]
    assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in html
    words = json.loads(re.search(r'<script type="application/json" id="ft-words">(.*?)</script>', html, re.S)[1])
    assert words == WORDS[lang]
    assert external_urls(html) == set()
    # The switch leads to the same page in the other language.
    other = "en" if lang == "zh" else "zh"
    assert f'href="?lang={other}"' in html
    assert f"/admin/static/{key}.js" in assets(html)


async def test_navigation_lists_every_page_in_the_language(client: AsyncTestClient[Any]) -> None:
    html = (await client.get("/admin/dashboard", params={"lang": "zh"})).text
    offered = {p.key for p in pages.available(client.app)}
    assert {"dashboard", "catalog", "staff", "devices", "loyalty", "exceptions", "reports"} <= offered
    for key in TITLE_KEYS:
        if key == "sign-in" or key not in offered:
            assert f'<a href="/admin/{key}"' not in html
            continue
        assert f'<a href="/admin/{key}"' in html
        assert WORDS["zh"][f"nav_{key}"] in html
    assert 'aria-current="page">概览<' in html


async def test_language_is_remembered_and_follows_the_browser(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/admin/dashboard", headers={"accept-language": "en-US,en;q=0.9"})
    assert h1(r.text) == "Today at a glance"
    r = await client.get("/admin/dashboard", headers={"accept-language": "fr"})
    assert h1(r.text) == "今日概览"  # the default
    await client.get("/admin/catalog", params={"lang": "en"})
    r = await client.get("/admin/staff", headers={"accept-language": "zh-CN"})
    assert h1(r.text) == "Staff"  # the chosen language wins over the browser's
    assert pick_lang("xx", None, "") == "zh"


async def test_home_and_unknown_pages(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/admin", follow_redirects=False)
    assert r.status_code in (301, 302, 303, 307, 308)
    assert r.headers["location"] == "/admin/dashboard"
    r = await client.get("/admin/no-such-page")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


async def test_shells_carry_no_store_data(client: AsyncTestClient[Any], demo: DemoInfo) -> None:
    secrets = {"上海旗舰店", "Shanghai flagship", "SH01", str(demo.store_id)}
    secrets |= {name for _, name, _, _, _ in DEMO_STAFF}
    secrets |= {en for _, _, _, en, *_ in DEMO_PRODUCTS} | {sku for sku, *_ in DEMO_PRODUCTS}
    for page in pages.available(client.app):
        key = page.key
        for lang in ("zh", "en"):
            html = (await client.get(f"/admin/{key}", params={"lang": lang})).text
            leaked = {s for s in secrets if s in html}
            assert not leaked, (key, lang, leaked)


async def test_static_assets_are_served_locally_and_fetch_nothing_outside(client: AsyncTestClient[Any]) -> None:
    seen: set[str] = set()
    for page in pages.available(client.app):
        html = (await client.get(f"/admin/{page.key}")).text
        seen |= set(assets(html))
    assert {
        "/admin/static/admin.css",
        "/admin/static/admin.js",
        "/admin/static/charts.js",
        "/admin/static/favicon.svg",
    } <= seen
    types = {".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for path in sorted(seen):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert types[path[path.rfind(".") :]] in r.headers["content-type"], path
        assert external_urls(r.text) == set(), path
        assert "@import" not in r.text, path
        assert "url(" not in r.text, path
    # Every file in the static folder is one a page uses (nothing stale shipped).
    shipped = {f"/admin/static/{p.name}" for p in pages.STATIC_DIR.iterdir() if p.is_file()}
    waiting = {f"/admin/static/{p.key}.js" for p in pages.PAGES.values() if p not in pages.available(client.app)}
    assert shipped == seen | waiting
    assert (await client.get("/admin/static/../controller.py")).status_code == 404
    assert (await client.get("/admin/static/nope.js")).status_code == 404


def test_words_exist_in_both_languages() -> None:
    assert set(WORDS["zh"]) == set(WORDS["en"])
    assert all(WORDS["zh"][k] and WORDS["en"][k] for k in WORDS["en"])


def test_every_word_the_pages_use_is_translated() -> None:
    from typing import get_args

    from protocol.admin import DeviceHealthState
    from protocol.identity import DeviceKind, DeviceState, Role
    from protocol.reports import CUSTOMER_STATES, RFM_SEGMENTS
    from tests.server.admin.js_calls import table_fields

    used: set[str] = set()
    for source in [*pages.STATIC_DIR.glob("*.js"), *(pages.HERE / "templates").glob("*.html")]:
        used |= set(re.findall(r"\bt\(\s*[\"']([a-z0-9_]+)[\"']\s*\)", source.read_text()))
    used |= {f"health_{h}" for h in get_args(DeviceHealthState)}
    used |= {f"role_{r}" for r in get_args(Role)} | {f"state_{s}" for s in get_args(DeviceState)}
    used |= set(get_args(DeviceKind))
    used |= {f"seg_{s}" for s in RFM_SEGMENTS} | {f"cs_{s}" for s in CUSTOMER_STATES}
    used |= {f"tender_{k}" for k in ("cash", "card", "wallet", "stored_value", "ecoin", "points")}
    used |= {f"status_{k}" for k in ("pending", "approved", "declined", "unknown", "failed")}
    used |= {f"dim_{d}" for d in ("tender", "hour", "customer")}
    used |= {f"kind_{k}" for k in ("call", "message", "visit")} | {f"task_{k}" for k in ("open", "done", "cancelled")}
    outcomes = ("reached", "no_answer", "declined", "interested", "purchased", "wrong_contact")
    used |= {f"out_{k}" for k in outcomes} | {f"col_{k}" for k in outcomes}
    used |= {f"col_{k}" for k in ("tasks", "done", "open", "overdue", "completion", "follow_ups", "converted")}
    used |= {f"col_{f}" for fields in table_fields(pages.STATIC_DIR / "reports.js").values() for f in fields}
    used |= {f"nav_{p.key}" for p in pages.PAGES.values() if p.in_nav}
    assert len(used) > 150
    assert used - set(WORDS["en"]) == set()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("script", sorted(p.name for p in pages.STATIC_DIR.glob("*.js")))
def test_scripts_parse(script: str) -> None:
    done = subprocess.run(["node", "--check", str(pages.STATIC_DIR / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
