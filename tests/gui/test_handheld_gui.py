"""The real handheld app in a real Kivy window under Xvfb, one subprocess per test so Kivy's global
state never leaks. The driver (drive_handheld.py) types through window key events like a scanner and
saves screenshots; these tests check the pictures themselves."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zxingcpp
from PIL import Image, ImageChops

from protocol.tickets import TicketDraft

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("drive_handheld.py")


def run_driver(out: Path, env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None and not os.environ.get("DISPLAY"):
        pytest.skip("needs Xvfb (xvfb-run) or a display")
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(out / "kivy"), "KIVY_NO_CONSOLELOG": "1"}
    env.update(env_extra or {})
    cmd = [sys.executable, str(DRIVER), str(out)]
    if xvfb is not None:
        cmd = [xvfb, "-a", "-s", "-screen 0 480x800x24", *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    result_file = out / "result.json"
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(result_file.read_text("utf-8"))
    assert result["ok"], result.get("error")
    return result


@pytest.fixture(scope="module")
def sale(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One full sale driven through the window (about 10 s): enrol, sign in, scan, override, member,
    issue, paid, release. The tests below check different parts of what it left behind."""
    out = tmp_path_factory.mktemp("handheld")
    return out, run_driver(out)


def test_the_sale_flows_through_the_real_screens(sale: tuple[Path, dict[str, Any]]) -> None:
    _, r = sale
    assert r["lines"] == [["SNY-XM5", 2], ["HUA-P70", 1]], "scanning the same barcode twice adds to its line"
    assert r["scan_field_after"] == "", "the scan field is ready for the next scan"
    assert r["total_after_override"] == 2 * 249900 + 480000
    assert r["member_card"] == "王*  138****0001\nGold · 12340 积分"
    assert r["total_text"] == "合计 ¥9,798.00"
    assert r["issue_button_en"] == "Issue ticket", "language switch updates kv labels live"
    assert r["total_text_en"] == "Total ¥9,798.00"
    assert r["bar"] == ["Offline – tickets are kept and sent later", "2 waiting to send", "1 refused by the server"]
    assert r["state_shown"] == "Paid"
    assert r["released"] == [r["ticket"]["id"]]
    assert r["message"] == f"Goods released for {r['ticket']['number']}."


def test_ticket_qr_screenshot_decodes_to_the_issued_ticket(sale: tuple[Path, dict[str, Any]]) -> None:
    out, r = sale
    found = zxingcpp.read_barcodes(Image.open(out / "ticket_qr.png"))
    assert [b.format for b in found] == [zxingcpp.BarcodeFormat.QRCode]
    assert found[0].text == r["ticket"]["qr"]
    draft = msgspec.json.decode(base64.urlsafe_b64decode(found[0].text.removeprefix("FT1:")), type=TicketDraft)
    assert str(draft.id) == r["ticket"]["id"]
    assert draft.number == r["ticket"]["number"]
    assert draft.total == r["ticket"]["total"] == 979800
    assert r["qr_title"] == f"Ticket {draft.number}"
    assert r["qr_total"] == "To pay ¥9,798.00"


def glyph_cells(path: Path, box: list[int], count: int) -> list[Image.Image]:
    """Crop the label, trim to its ink, and cut it into ``count`` equal glyph cells (CJK is full-width)."""
    crop = Image.open(path).convert("L").crop(tuple(box))
    ink = crop.point(lambda v: 255 if v > 128 else 0)
    bounds = ink.getbbox()
    assert bounds is not None, "the label has no visible text at all"
    ink = ink.crop(bounds)
    w = ink.width / count
    cells = [ink.crop((round(i * w), 0, round((i + 1) * w), ink.height)) for i in range(count)]
    return [cell.crop(cell.getbbox() or (0, 0, cell.width, cell.height)) for cell in cells]


def differing(a: Image.Image, b: Image.Image) -> float:
    """Share of pixels that differ between two glyph cells (0 = same picture)."""
    b = b.resize(a.size)
    diff = ImageChops.difference(a, b)
    return 1 - diff.histogram()[0] / (diff.width * diff.height)


def test_chinese_is_drawn_with_real_glyphs_not_boxes(sale: tuple[Path, dict[str, Any]]) -> None:
    out, r = sale
    assert r["title_zh"] == "员工登录"
    assert r["font"]
    assert r["font"].endswith((".ttc", ".ttf", ".otf"))
    cells = glyph_cells(out / "sign_in_zh.png", r["title_bbox"], 4)
    # Missing glyphs are drawn as identical boxes; four different characters must look different.
    pairs = [differing(cells[i], cells[j]) for i in range(4) for j in range(i + 1, 4)]
    assert min(pairs) > 0.25, pairs


def test_the_tofu_check_catches_a_font_without_chinese(tmp_path: Path) -> None:
    """Control for the test above: with Kivy's bundled Roboto the same title is four identical boxes."""
    spec = importlib.util.find_spec("kivy")  # not imported here: Kivy stays out of the test process
    assert spec is not None
    assert spec.origin is not None
    roboto = Path(spec.origin).parent / "data" / "fonts" / "Roboto-Regular.ttf"
    r = run_driver(tmp_path, {"FT_CJK_FONT": str(roboto), "FT_GUI_STOP_AFTER": "sign_in"})
    cells = glyph_cells(tmp_path / "sign_in_zh.png", r["title_bbox"], 4)
    pairs = [differing(cells[i], cells[j]) for i in range(4) for j in range(i + 1, 4)]
    assert max(pairs) < 0.1, pairs


def test_main_screens_are_not_blank(sale: tuple[Path, dict[str, Any]]) -> None:
    out, _ = sale
    for name in ("sign_in_zh", "sell_zh", "ticket_qr", "my_tickets_paid"):
        img = Image.open(out / f"{name}.png").convert("L")
        assert img.size == (480, 800)
        lo, hi = img.getextrema()
        assert hi - lo > 150, name
        # The connection bar is always there: the top rows carry its colour, not the screen's.
        bar = Image.open(out / f"{name}.png").convert("RGB").getpixel((5, 5))
        assert bar != (0, 0, 0), name
