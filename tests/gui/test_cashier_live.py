"""The real till app with its real wiring in a Kivy window under Xvfb, against the real server: enroll
with the demo till's code, sign in, open the shift, scan a ticket QR a handheld issued, take cash; the
receipt QR in the screenshot is signed by this till's enrolled key and proves the checkout the server
settled."""

from __future__ import annotations

import asyncio
import json
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
from PIL import Image

from protocol.receipts import verify_receipt
from server.demo import DemoInfo
from tests.cashier.live_helpers import IP16, Counter, code_for
from tests.live_server import LiveServer

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("drive_cashier_live.py")


def run_live_driver(out: Path, env_extra: dict[str, str]) -> dict[str, Any]:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None and not os.environ.get("DISPLAY"):
        pytest.skip("needs Xvfb (xvfb-run) or a display")
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(out / "kivy"), "KIVY_NO_CONSOLELOG": "1", **env_extra}
    cmd = [sys.executable, str(DRIVER), str(out)]
    if xvfb is not None:
        cmd = [xvfb, "-a", "-s", "-screen 0 1280x800x24", *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    result_file = out / "result.json"
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:] + f" rc={proc.returncode}"
    result: dict[str, Any] = json.loads(result_file.read_text("utf-8"))
    assert result["ok"], result.get("error")
    return result


async def test_cash_checkout_in_the_window_and_the_screenshot_receipt_qr_verifies(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    ticket_id, qr = await apple.issue(IP16)
    await apple.upload()
    apple.close()
    env = {"FT_TEST_SERVER": live.url, "FT_TEST_CODE": code_for(demo, "Till 1"), "FT_TEST_QR": qr}
    r = await asyncio.to_thread(run_live_driver, tmp_path / "gui", env)
    assert r["basket_total"] == 599900
    assert r["receipt"]["queued"] is False
    assert r["receipt"]["change"] in ("Change ¥1.00", "找零 ¥1.00")

    found = zxingcpp.read_barcodes(Image.open(tmp_path / "gui" / "live_receipt.png"))
    assert [b.format for b in found] == [zxingcpp.BarcodeFormat.QRCode]
    assert found[0].text == r["receipt"]["qr"]
    till_id = uuid.UUID(r["device_id"])
    key = bytes(await conn.fetchval("SELECT public_key FROM device WHERE id = $1 AND state = 'active'", till_id))
    receipt = verify_receipt(found[0].text, {till_id: key})
    assert str(receipt.checkout_id) == r["receipt"]["checkout_id"]
    assert receipt.receipt_no == r["receipt"]["receipt_no"]
    assert [t.id for t in receipt.tickets] == [ticket_id]
    assert (receipt.total, receipt.paid, receipt.change) == (599900, 600000, 100)

    row = await conn.fetchrow("SELECT state, checkout_id FROM ticket WHERE id = $1", ticket_id)
    assert (row["state"], str(row["checkout_id"])) == ("paid", r["receipt"]["checkout_id"])
    tenders = await conn.fetch("SELECT kind, tendered, change FROM tender WHERE checkout_id = $1", receipt.checkout_id)
    assert [(t["kind"], t["tendered"], t["change"]) for t in tenders] == [("cash", 600000, 100)]
