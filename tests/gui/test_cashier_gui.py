"""The real cashier app in a real Kivy window under Xvfb, one subprocess per run so Kivy's global state
never leaks. The driver (drive_cashier.py) types through window key events like a scanner (the whole
signed ticket QR payload, then Enter) and saves screenshots; these tests check the pictures."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
import zxingcpp
from PIL import Image

from protocol.receipts import verify_receipt
from tests.gui.test_handheld_gui import differing, glyph_cells

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("drive_cashier.py")
TILL = uuid.UUID("01900000-0000-7000-8000-0000000000b1")
TILL_PUBLIC = bytes(nacl.signing.SigningKey(b"t" * 32).verify_key)


def run_driver(out: Path, env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None and not os.environ.get("DISPLAY"):
        pytest.skip("needs Xvfb (xvfb-run) or a display")
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(out / "kivy"), "KIVY_NO_CONSOLELOG": "1"}
    env.update(env_extra or {})
    cmd = [sys.executable, str(DRIVER), str(out)]
    if xvfb is not None:
        cmd = [xvfb, "-a", "-s", "-screen 0 1280x800x24", *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    result_file = out / "result.json"
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(result_file.read_text("utf-8"))
    assert result["ok"], result.get("error")
    return result


@pytest.fixture(scope="module")
def till(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One shift driven through the window: enrol, a sales assistant refused, cashier sign-in, float,
    live queue, scan, stored value + cash, receipt, next customer, offline cash into the outbox."""
    out = tmp_path_factory.mktemp("cashier")
    return out, run_driver(out)


def test_a_checkout_flows_through_the_real_screens(till: tuple[Path, dict[str, Any]]) -> None:
    _, r = till
    assert r["sales_refused"] == "王芳 Wang Fang 无收银权限；请用收银员工号登录。"
    assert r["shift_message"] == "已开班，钱箱备用金 ¥500.00。"
    assert r["queue"][0] == "[b]会员 王*   ¥8,498.00[/b]\n2 张 · SH01-C-01-H1-000001, SH01-C-02-H1-000002"
    assert r["queue_summary"] == "2 位顾客 · 3 张小票 · ¥8,697.00"
    # One scanned ticket QR brought both of the member's tickets, from two counters.
    assert r["basket"] == [["SH01-01-H1-000001  苹果专柜", "¥5,999.00"], ["SH01-02-H1-000002  索尼专柜", "¥2,499.00"]]
    assert r["basket_total"] == "应付 ¥8,498.00"
    assert r["member"] == "王* · gold"
    assert r["scan_after"] == "", "the scan field is ready for the next scan"
    assert r["after_stored_value"] == "还需支付 ¥7,498.00"
    assert r["settled"]["tenders"] == [["stored_value", 100000], ["cash", 750000]]
    assert r["settled"]["total"] == 849800
    assert r["settled"]["shift"] != "None", "the checkout belongs to the open shift"
    assert r["receipt"]["change"] == "找零 ¥2.00"
    assert r["receipt"]["tenders"] == "储值   ¥1,000.00\n现金   ¥7,500.00"
    assert r["next_en"] == "Next customer  (Enter)", "language switch updates kv labels live"
    assert r["cleared"] == "Scan any ticket of the customer, or their member code."


def test_receipt_qr_screenshot_decodes_and_verifies(till: tuple[Path, dict[str, Any]]) -> None:
    out, r = till
    found = zxingcpp.read_barcodes(Image.open(out / "receipt.png"))
    assert [b.format for b in found] == [zxingcpp.BarcodeFormat.QRCode]
    assert found[0].text == r["receipt"]["qr"]
    receipt = verify_receipt(found[0].text, {TILL: TILL_PUBLIC})
    assert receipt.total == 849800
    assert receipt.paid == 850000
    assert receipt.change == 200
    assert [t.number for t in receipt.tickets] == r["settled"]["tickets"]


def test_offline_banner_disabled_tenders_and_cash_into_the_outbox(till: tuple[Path, dict[str, Any]]) -> None:
    out, r = till
    assert r["banner"].startswith("OFFLINE · Tickets scanned from their QR codes only: cash, card on the card")
    assert "balances within the allowances reserved online" in r["banner"]
    # Offline the card button takes a card charged on the standalone terminal (its approval code).
    assert r["offline_buttons"] == {"cash": False, "card": False, "wallet": True, "stored_value": True}
    assert r["offline_card_hint"].startswith("Offline · card terminal: approval code and last 4")
    assert "Offline: wallet payments need the server. Take cash or a card on the card terminal." in r["offline_why"]
    assert "Offline: balances are spent only within an allowance reserved online" in r["offline_why"]
    assert r["queued"]["tenders"] == [["cash", 250000]]
    assert r["queued"]["qr"][0].startswith("FT1:"), "the scanned code travels with the checkout for upload"
    assert r["queued_note"] == "Offline: kept on this till and sent when the network is back."
    assert r["queued_change"] == "Change ¥1.00"
    # The banner is red across the screen under the connection bar.
    assert Image.open(out / "checkout_offline.png").convert("RGB").getpixel((5, 60)) == (191, 31, 31)


def test_chinese_is_drawn_with_real_glyphs_not_boxes(till: tuple[Path, dict[str, Any]]) -> None:
    out, r = till
    assert r["title_zh"] == "员工登录"
    cells = glyph_cells(out / "sign_in_zh.png", r["title_bbox"], 4)
    pairs = [differing(cells[i], cells[j]) for i in range(4) for j in range(i + 1, 4)]
    assert min(pairs) > 0.25, pairs


def test_the_tofu_check_catches_a_font_without_chinese(tmp_path: Path) -> None:
    spec = importlib.util.find_spec("kivy")
    assert spec is not None
    assert spec.origin is not None
    roboto = Path(spec.origin).parent / "data" / "fonts" / "Roboto-Regular.ttf"
    r = run_driver(tmp_path, {"FT_CJK_FONT": str(roboto), "FT_GUI_STOP_AFTER": "sign_in"})
    cells = glyph_cells(tmp_path / "sign_in_zh.png", r["title_bbox"], 4)
    pairs = [differing(cells[i], cells[j]) for i in range(4) for j in range(i + 1, 4)]
    assert max(pairs) < 0.1, pairs


def test_main_screens_are_not_blank(till: tuple[Path, dict[str, Any]]) -> None:
    out, _ = till
    for name in ("sign_in_zh", "checkout_zh", "receipt", "checkout_offline"):
        img = Image.open(out / f"{name}.png").convert("L")
        assert img.size == (1280, 800)
        lo, hi = img.getextrema()
        assert hi - lo > 150, name
