"""The real app with its real wiring in a Kivy window under Xvfb, against the real server: enroll with a
demo code, sign in, scan, issue; the QR in the screenshot is the ticket the device signed, and the
server has the ticket once."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import zxingcpp
from PIL import Image, ImageStat

from protocol.qr import verify_ticket
from server.demo import DemoInfo
from tests.gui.test_handheld_gui import ROOT
from tests.live_server import LiveServer

pytestmark = pytest.mark.gui

DRIVER = Path(__file__).with_name("drive_handheld_live.py")


def run_live_driver(out: Path, server: str, code: str) -> dict[str, Any]:
    import json

    xvfb = shutil.which("xvfb-run")
    if xvfb is None and not os.environ.get("DISPLAY"):
        pytest.skip("needs Xvfb (xvfb-run) or a display")
    env = {
        **os.environ,
        "KIVY_NO_ARGS": "1",
        "KIVY_HOME": str(out / "kivy"),
        "KIVY_NO_CONSOLELOG": "1",
        "FT_TEST_SERVER": server,
        "FT_TEST_CODE": code,
    }
    cmd = [sys.executable, str(DRIVER), str(out)]
    if xvfb is not None:
        cmd = [xvfb, "-a", "-s", "-screen 0 480x800x24", *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    result_file = out / "result.json"
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(result_file.read_text("utf-8"))
    assert result["ok"], result.get("error")
    return result


async def test_enroll_sign_in_scan_issue_and_the_screenshot_qr_verifies_against_the_server(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    code = next(c for label, _kind, c in demo.enrollment_codes if label == "Handheld Apple 1")
    r = await asyncio.to_thread(run_live_driver, tmp_path, live.url, code)
    assert r["lines"] == [["APL-IP16", 1]]

    found = zxingcpp.read_barcodes(Image.open(tmp_path / "live_ticket_qr.png"))
    assert [b.format for b in found] == [zxingcpp.BarcodeFormat.QRCode]
    text = found[0].text
    assert text == r["ticket"]["qr"]

    device_id = uuid.UUID(r["device_id"])
    key = bytes(await conn.fetchval("SELECT public_key FROM device WHERE id = $1 AND state = 'active'", device_id))
    scanned = verify_ticket(text, lambda d: key if d == device_id else None)
    ticket = scanned.command.ticket
    assert scanned.device_id == device_id
    assert str(ticket.id) == r["ticket"]["id"]
    assert ticket.number == r["ticket"]["number"]
    assert ticket.total == 599900
    assert [(line.product_id, line.qty) for line in ticket.lines] == [
        (await conn.fetchval("SELECT id FROM product WHERE sku = 'APL-IP16'"), 1)
    ]
    assert r["qr_title"].endswith(ticket.number)

    assert r["bar"] in ("Online", "在线")

    # Paid by card on the handheld itself, then the goods released.
    assert r["pay_amount"] in ("To pay ¥5,999.00", "应付 ¥5,999.00")
    assert "¥5,999.00 · **** 1111 · " in r["pay_notice"]
    shot = Image.open(tmp_path / "live_card_paid.png").convert("RGB")
    release = mean_colour(shot.crop(tuple(r["pay_release_box"])))
    charge = mean_colour(shot.crop(tuple(r["pay_charge_box"])))
    assert release[1] > 100, release  # the release button is green and enabled
    assert min(release[1] - release[0], release[1] - release[2]) > 40, release
    assert max(charge) < max(release), (charge, release)  # charging again is disabled (dimmed)
    row = await conn.fetchrow("SELECT count(*) AS n, min(state) AS state FROM ticket WHERE id = $1", ticket.id)
    assert (row["n"], row["state"]) == (1, "released")
    mode = await conn.fetchval(
        "SELECT c.mode FROM checkout c JOIN checkout_ticket t ON t.checkout_id = c.id WHERE t.ticket_id = $1", ticket.id
    )
    assert mode == "one_stop"


def mean_colour(image: Image.Image) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in ImageStat.Stat(image).mean[:3])
    return r, g, b
