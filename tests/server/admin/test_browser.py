"""The admin pages in a real headless Chromium (the system's browser and driver) against the real server
on loopback, over the demo store with its history and a known day of sales today: sign in, the dashboard,
a report with its chart and table in both languages, a segment built, counted and saved, and every page
of the menu opened in both languages with its title and no error. Every step is
kept as a screenshot under test-artifacts/admin/, and the screenshots are checked for the charts' colours.
Any error in the browser's console fails the test."""

from __future__ import annotations

import asyncio
import io
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from server.admin import pages as admin_pages
from server.admin import repository as admin_repo
from server.admin.i18n import WORDS
from server.demo import seed_demo
from server.settings import Settings
from tests.live_server import LiveServer
from tests.pg import Cluster
from tests.server.reports.sales import Line, sell

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "admin"
WIDTH, HEIGHT = 1280, 1400
HISTORY_TICKETS = 1500
# charts.js's palette, as RGB
BLUE, ORANGE, GREEN = (0x2F, 0x6F, 0xB3), (0xE0, 0x7B, 0x39), (0x3A, 0x9E, 0x6A)

# Today's sales (hand-computed): AirPods Pro 2 at 1,699.00 + 2 FreeBuds at 899.00; 3 kettles at 199.00.
TODAY_SALES = 169900 + 2 * 89900 + 3 * 19900
TODAY_CHECKOUTS = 2
TODAY_TICKETS = 3

T = TypeVar("T")


@dataclass
class Site:
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
async def site(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """The demo store with a history and today's two checkouts, served by the real server."""
    async with cluster.database() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            info = await seed_demo(conn, history_tickets=HISTORY_TICKETS)
            day = (await conn.fetchrow(admin_repo.STORE_DAY, info.store_id))["day"]
            await sell(
                conn, info.store_id,
                [("C-APL", [Line("APL-APP2", 1, 169900, True)]), ("C-HUA", [Line("HUA-FB5", 2, 89900, True)])],
                day=day, hour=10, tenders=[("card", 169900), ("cash", 179800)],
            )  # fmt: skip
            await sell(
                conn, info.store_id, [("C-HOM", [Line("HOM-KT01", 3, 19900)])], day=day, hour=15,
                tenders=[("cash", 59700)],
            )  # fmt: skip
        finally:
            await conn.close()
        settings = Settings(
            secret_key="test-secret-" + "x" * 32, data_dir=tmp_path_factory.mktemp("browser"), seed_demo=False
        )
        server = LiveServer(dsn, settings)
        await asyncio.to_thread(server.start)
        try:
            yield Site(server)
        finally:
            await asyncio.to_thread(server.stop)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            "Chromium and its driver are not installed: run `make test` (it installs chromium and chromium-driver)"
        )
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},{HEIGHT}",
        "--force-device-scale-factor=1",
        "--lang=en-US",
        "--disable-extensions",
        "--no-first-run",
    ):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(15)
    # A manager's browser far from the store (UTC-11 against Shanghai's UTC+8): its calendar is mostly a
    # day behind the store's, so a page that takes "today" from the browser shows the wrong days.
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Pacific/Pago_Pago"})
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver) -> Iterator[WebDriver]:
    """The browser, with its console checked after the test: any error fails it."""
    browser.get_log("browser")  # drop what an earlier test left
    yield browser
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"errors in the browser console: {errors}"


# --- helpers ----------------------------------------------------------------------------------------


def wait(driver: WebDriver, what: Callable[[], T | None], message: str, timeout: float = 8) -> T:
    """Poll ``what`` until it gives something truthy; a page error shown meanwhile fails at once."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        flash = driver.find_elements(By.CSS_SELECTOR, "#flash.error")
        if flash and flash[0].is_displayed():
            raise AssertionError(f"the page shows an error while waiting for {message}: {flash[0].text}")
        try:
            got = what()
        except Exception as e:  # the element is being redrawn
            last = e
            got = None
        if got:
            return got
        time.sleep(0.05)
    raise TimeoutException(f"waiting for {message}" + (f" (last: {last})" if last else ""))


def text_of(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def sign_in(driver: WebDriver, url: str, goto: str) -> None:
    """Open ``goto``; signed out, the page sends us to sign-in first and comes back to it after."""
    driver.get(url + goto)
    if "/admin/sign-in" not in driver.current_url:
        return
    assert driver.current_url.endswith("?next=" + goto.replace("/", "%2F")), driver.current_url
    driver.find_element(By.ID, "staff_code").send_keys("M001")
    driver.find_element(By.ID, "password").send_keys("manager-demo")
    shot(driver, "01-sign-in")
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    wait(driver, lambda: urlsplit(driver.current_url).path == goto, f"the way back to {goto}")


def api(driver: WebDriver, url: str, method: str, path: str, body: Any = None) -> Any:
    """Ask the API with the page's own session (its bearer token from sessionStorage)."""
    token = driver.execute_script("return JSON.parse(sessionStorage.getItem('ft_admin_session')).access_token")
    r = httpx.request(method, url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code < 300, r.text
    return r.json()


def shot(driver: WebDriver, name: str) -> Image.Image:
    """Keep the page as it is now as an artifact; it must be a real picture, not a blank page."""
    png = driver.get_screenshot_as_png()
    (ARTIFACTS / f"{name}.png").write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (WIDTH, driver.execute_script("return window.innerHeight")), image.size
    assert len(image.getcolors(maxcolors=1 << 20) or []) > 40, f"{name}.png is nearly blank"
    return image


def chart_shot(element: WebElement, name: str) -> dict[tuple[int, int, int], int]:
    """Keep one chart as an artifact; return how many pixels of each colour it has."""
    png = element.screenshot_as_png
    (ARTIFACTS / f"{name}.png").write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {colour: n for n, colour in image.getcolors(maxcolors=1 << 20) or []}


def money(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def table_rows(driver: WebDriver, container_id: str) -> list[list[str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{container_id} tbody tr")
    return [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]


# --- the pages ----------------------------------------------------------------------------------------


def test_sign_in_and_dashboard_shows_today(site: Site, page: WebDriver) -> None:
    page.delete_all_cookies()
    page.get(site.url + "/admin/sign-in")
    page.execute_script("sessionStorage.clear()")
    sign_in(page, site.url, "/admin/dashboard")
    assert text_of(page, "who") == "陈静 Chen Jing · SH01"

    tiles = wait(page, lambda: page.find_elements(By.CSS_SELECTOR, "#tiles .tile"), "the dashboard's figures")
    figures = {t.find_element(By.CLASS_NAME, "k").text: t.find_element(By.CLASS_NAME, "v").text for t in tiles}
    d = api(page, site.url, "GET", "/api/admin/dashboard")
    assert (d["sales"], d["checkouts"], d["tickets_paid"]) == (TODAY_SALES, TODAY_CHECKOUTS, TODAY_TICKETS)
    assert figures["Net sales"] == money(TODAY_SALES), figures
    assert figures["Checkouts"] == str(TODAY_CHECKOUTS), figures
    assert figures["Average checkout"] == money(TODAY_SALES // TODAY_CHECKOUTS), figures
    assert figures["Tickets paid"] == str(TODAY_TICKETS), figures
    assert d["business_day"] in text_of(page, "business-day")
    assert "Shanghai flagship" in text_of(page, "business-day")

    # Sales by hour: bars at 10:00 and 15:00 only; by counter: Apple, Huawei and the home counter.
    hour_bars = page.find_elements(By.CSS_SELECTOR, "#chart-hour svg rect.bar")
    assert len(hour_bars) == 24
    tall = [b.find_element(By.TAG_NAME, "title").get_attribute("textContent") for b in hour_bars
            if float(b.get_attribute("height") or 0) > 0]  # fmt: skip
    assert [t.split(":")[0] for t in tall] == ["10", "15"], tall
    counter_rows = {r[0]: r[1] for r in table_rows(page, "table-counter")}
    assert counter_rows["C-APL Apple counter"] == money(169900)
    assert counter_rows["C-HUA Huawei counter"] == money(2 * 89900)
    assert counter_rows["C-HOM Home appliances"] == money(3 * 19900)
    assert counter_rows["C-SNY Sony counter"] == money(0)

    devices = {r[0]: r[2] for r in table_rows(page, "devices")}
    assert set(devices) == {"Handheld Apple 1", "Handheld Huawei 1", "Till 1"}
    assert set(devices.values()) == {"Waiting for enrollment"}, devices
    shot(page, "02-dashboard")
    hour = chart_shot(page.find_element(By.ID, "chart-hour"), "02-dashboard-chart-hour")
    assert hour.get(BLUE, 0) > 200, "no bars drawn in sales by hour"
    counters = chart_shot(page.find_element(By.ID, "chart-counter"), "02-dashboard-chart-counter")
    # one colour per counter with sales (the palette in counter order: Apple, Huawei, Sony=0, Home)
    assert all(counters.get(c, 0) > 100 for c in (BLUE, ORANGE)), "counter bars missing"


def test_category_report_chart_table_and_language(site: Site, page: WebDriver) -> None:
    sign_in(page, site.url, "/admin/reports")
    page.get(site.url + "/admin/reports?lang=en#categories")
    assert page.find_element(By.TAG_NAME, "h1").text == "Reports"
    wait(page, lambda: page.find_elements(By.CSS_SELECTOR, "#report-table tbody tr"), "the report's rows")
    # The period shown is the server's default (30 days up to the store's today in Shanghai), whatever
    # the browser's own clock and timezone say.
    r = api(page, site.url, "GET", "/api/admin/reports/categories?dimension=category")
    frm = page.find_element(By.NAME, "from").get_attribute("value")
    to = page.find_element(By.NAME, "to").get_attribute("value")
    assert (frm, to) == (r["scope"]["period_from"], r["scope"]["period_to"])
    assert len(r["rows"]) >= 5, "the demo history has sales in many categories"
    rows = table_rows(page, "report-table")
    assert [row[0] for row in rows] == [x["key"] for x in r["rows"]]
    assert [row[1] for row in rows] == [money(x["sales"]) for x in r["rows"]]
    assert [row[4] for row in rows] == [str(x["tickets"]) for x in r["rows"]]
    assert "Category and brand analysis" in text_of(page, "report-title")
    assert money(r["total"]["sales"]) in text_of(page, "report-summary")
    charts = page.find_elements(By.CSS_SELECTOR, "#report-charts svg")
    assert len(charts) == 2
    assert len(charts[0].find_elements(By.CSS_SELECTOR, "rect.bar")) == len(r["rows"])
    shot(page, "03-report-categories")
    colours = chart_shot(page.find_element(By.CSS_SELECTOR, "#report-charts figure"), "03-report-categories-chart")
    assert sum(1 for c in (BLUE, ORANGE, GREEN) if colours.get(c, 0) > 100) == 3, "the bars' colours are missing"

    # 中文: the page's words change, the figures stay.
    page.find_element(By.ID, "lang-switch").click()
    wait(page, lambda: page.find_element(By.TAG_NAME, "h1").text == "经营报表", "the Chinese heading")
    wait(page, lambda: "品类与品牌分析" in text_of(page, "report-title"), "the Chinese report title")
    assert page.find_element(By.ID, "lang-switch").text == "English"
    assert "概览" in page.find_element(By.CSS_SELECTOR, "header nav").text
    wait(page, lambda: [row[0] for row in table_rows(page, "report-table")] == [x["key"] for x in r["rows"]],
         "the same rows in Chinese")  # fmt: skip
    headers = [th.text for th in page.find_elements(By.CSS_SELECTOR, "#report-table th")]
    assert "Sales" not in headers
    shot(page, "04-report-categories-zh")
    # The choice is remembered: another page opens in Chinese, until switched back.
    page.get(site.url + "/admin/dashboard")
    assert page.find_element(By.TAG_NAME, "h1").text == "今日概览"
    page.find_element(By.ID, "lang-switch").click()
    wait(page, lambda: page.find_element(By.TAG_NAME, "h1").text == "Today at a glance", "English again")


def test_build_count_and_save_a_segment(site: Site, page: WebDriver) -> None:
    sign_in(page, site.url, "/admin/segments")
    page.get(site.url + "/admin/segments")
    count = page.find_element(By.ID, "segment-count")
    wait(page, lambda: count.text.isdigit(), "the first count")
    everyone = api(page, site.url, "POST", "/api/admin/segments/preview", {})["members"]
    assert int(count.text) == everyone > 0

    # Members who bought audio at least twice in the window: the count follows as the filter is typed.
    page.find_element(By.NAME, "categories").send_keys("audio")
    page.find_element(By.NAME, "min_transactions").send_keys("2")
    audio_twice = {"categories": ["audio"], "min_transactions": 2}
    wanted = api(page, site.url, "POST", "/api/admin/segments/preview", audio_twice)
    assert 0 < wanted["members"] < everyone, "the demo history should give a real, smaller segment"
    wait(page, lambda: count.text == str(wanted["members"]), f"the count to become {wanted['members']}")
    assert f"{wanted['window_from']} – {wanted['window_to']}" == text_of(page, "segment-window")
    sample = table_rows(page, "sample")
    assert len(sample) == min(len(wanted["sample"]), wanted["members"])
    assert [row[0] for row in sample] == [m["name"] for m in wanted["sample"]]
    assert all("*" in row[1] for row in sample), "a manager sees phone numbers masked"
    shot(page, "05-segment-built")

    page.find_element(By.ID, "segment-name").send_keys("Audio regulars")
    page.find_element(By.ID, "save-segment").click()
    wait(page, lambda: "Audio regulars" in text_of(page, "segments"), "the saved segment in the list")
    assert text_of(page, "flash") == "Saved."
    saved = [s for s in api(page, site.url, "GET", "/api/admin/segments") if s["name"] == "Audio regulars"]
    assert len(saved) == 1
    stored = api(page, site.url, "GET", f"/api/admin/segments/{saved[0]['id']}")
    assert stored["filter"] | {"store_id": None} == audio_twice | {"store_id": None}
    shot(page, "06-segment-saved")


async def test_an_exception_is_listed_with_its_fix_and_resolved_with_a_note(site: Site, page: WebDriver) -> None:
    conn = await asyncpg.connect(site.server.dsn)
    try:
        store_id = await conn.fetchval("SELECT id FROM store WHERE code = 'SH01'")
        till_id = await conn.fetchval("SELECT id FROM device WHERE label = 'Till 1'")
        exception_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO store_exception (id, store_id, source_id, kind, checkout_id, ticket_numbers, device_id,"
            " taken, fix, fix_text, refusal_code, request) VALUES ($1, $2, $1, 'ticket_voided', $1,"
            " '{SH01-C-APL-H1-000042}', $3, $4::text::jsonb, $5::text::jsonb, $6::text::jsonb, 'ticket_not_open',"
            " $7::text::jsonb)",
            exception_id,
            store_id,
            till_id,
            '{"cash": 600000}',
            '[{"action": "refund_cash", "amount": 600000, "tender": "cash"}]',
            '{"en": "Refund 6,000.00 in cash to the customer.", "zh": "退还顾客现金 6,000.00 元。"}',
            '{"offline_receipt_no": "SH01-TA1B2C3-000007"}',
        )
        sign_in(page, site.url, "/admin/exceptions")
        page.get(site.url + "/admin/exceptions?lang=en")
        rows = wait(page, lambda: table_rows(page, "store-exceptions"), "the open exception")
        [row] = rows
        assert "Ticket voided" in row
        assert "Till 1" in row
        assert "SH01-C-APL-H1-000042" in row
        assert "Refund 6,000.00 in cash to the customer." in row
        assert "Cash ¥6,000.00" in row
        assert "SH01-TA1B2C3-000007" in row, "the customer's paper receipt"
        dashboard = api(page, site.url, "GET", "/api/admin/dashboard")
        assert dashboard["open_exceptions"] == 1
        shot(page, "07-exception-open")

        form = page.find_element(By.CSS_SELECTOR, f"form[data-exception='{exception_id}']")
        form.find_element(By.NAME, "note").send_keys("customer never came back")
        Select(form.find_element(By.NAME, "cash_outcome")).select_by_value("kept")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(page, lambda: "The queue is empty." in text_of(page, "store-exceptions"), "the queue emptied")
        row = await conn.fetchrow(
            "SELECT status, resolution_note, s.code FROM store_exception e JOIN staff s ON s.id = e.resolved_by"
            " WHERE e.id = $1",
            exception_id,
        )
        assert (row["status"], row["resolution_note"], row["code"]) == ("resolved", "customer never came back", "M001")
        resolved = api(page, site.url, "GET", f"/exceptions/{exception_id}")
        assert resolved["cash_outcome"] == "kept"
        shot(page, "08-exception-resolved")
    finally:
        await conn.close()


# Counts the page's API calls still in flight, so a test knows when a page has drawn what it asked for.
PENDING_FETCHES = """
(function () {
  const real = window.fetch;
  window.__ftPending = 0;
  window.fetch = function () {
    window.__ftPending += 1;
    return real.apply(this, arguments).finally(function () { window.__ftPending -= 1; });
  };
})();
"""


def settled(driver: WebDriver, what: str) -> None:
    """Wait until the page's API calls are done (twice in a row, so a call made after one is counted)."""
    quiet = [0]

    def done() -> bool:
        idle = driver.execute_script("return document.readyState === 'complete' && window.__ftPending === 0")
        quiet[0] = quiet[0] + 1 if idle else 0
        return quiet[0] >= 3

    wait(driver, done, f"{what} to finish loading")


def test_every_admin_page_opens_in_both_languages_with_its_title_and_no_error(site: Site, page: WebDriver) -> None:
    script = page.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PENDING_FETCHES})
    try:
        sign_in(page, site.url, "/admin/dashboard")
        page.get(site.url + "/admin/dashboard?lang=en")
        links = page.find_elements(By.CSS_SELECTOR, "header nav a")
        keys = [urlsplit(str(a.get_attribute("href"))).path.removeprefix("/admin/") for a in links]
        offered = [p.key for p in admin_pages.PAGES.values() if p.in_nav]
        assert sorted(keys) == sorted(offered), "the menu offers every page of this server"
        for n, key in enumerate(keys, start=1):
            for lang in ("en", "zh"):
                page.get(f"{site.url}/admin/{key}?lang={lang}")
                settled(page, f"/admin/{key} in {lang}")
                title = WORDS[lang][f"{key}_title"]
                assert page.find_element(By.TAG_NAME, "h1").text == title, (key, lang)
                assert page.title.startswith(title), (key, lang, page.title)
                assert urlsplit(page.current_url).path == f"/admin/{key}", "not sent back to sign in"
                current = page.find_element(By.CSS_SELECTOR, "header nav a[aria-current=page]")
                assert current.text == WORDS[lang][f"nav_{key}"]
                flash = page.find_element(By.ID, "flash")
                assert not (flash.is_displayed() and "error" in (flash.get_attribute("class") or "")), (
                    f"/admin/{key} in {lang} shows an error: {flash.text}"
                )
                errors = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
                assert not errors, f"/admin/{key} in {lang}: errors in the browser console: {errors}"
                shot(page, f"10-page-{n:02d}-{key}-{lang}")
    finally:
        page.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
        page.get(site.url + "/admin/dashboard?lang=en")  # leave the browser in English for the next test
