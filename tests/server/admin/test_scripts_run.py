"""The pages' shared script and charts, run in node with a few DOM stand-ins (no browser): amounts
typed in yuan become exact fen, money is shown as the store shows it, bars and slices are in
proportion to the figures."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server.admin.pages import STATIC_DIR

HARNESS = Path(__file__).with_name("harness.js")


@pytest.fixture(scope="module")
def computed() -> dict[str, Any]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    done = subprocess.run(["node", str(HARNESS), str(STATIC_DIR)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_yuan_typed_become_exact_fen(computed: dict[str, Any]) -> None:
    typed = ["12.5", "0.05", "1299", "1299.00", " 7.1 ", "1.234", "abc", "-1", "12.", ".5", ""]
    fen = [1250, 5, 129900, 129900, 710, None, None, None, None, None, None]
    assert dict(zip(typed, computed["toFen"], strict=True)) == dict(zip(typed, fen, strict=True))
    assert computed["fenToText"] == ["12.50", "0.05", "0.00", "1299.00"]


def test_money_is_shown_in_yuan(computed: dict[str, Any]) -> None:
    assert computed["money"] == ["¥1,234,567.89", "-¥1.50", "¥0.00"]


def test_charts_are_in_proportion(computed: dict[str, Any]) -> None:
    tall, half, zero = computed["bars"]
    assert tall > 0
    assert half == tall / 2
    assert zero == 0
    assert computed["slices"] == ["x: 3 (75.0%)", "y: 1 (25.0%)"]
