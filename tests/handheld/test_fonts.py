from __future__ import annotations

from pathlib import Path

import pytest

from client_common.ui import fonts


def test_a_configured_font_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    font = tmp_path / "x.ttf"
    font.write_bytes(b"\0")
    monkeypatch.setenv(fonts.FONT_ENV, str(font))
    assert fonts.find_cjk_font() == font


def test_a_configured_font_that_is_missing_is_reported_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fonts.FONT_ENV, "/nonexistent/font.ttc")
    assert fonts.find_cjk_font() is None
    assert "fonts-wqy-microhei" in fonts.MISSING


def test_the_installed_chinese_font_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test command installs fonts-wqy-microhei; the app must find it without configuration."""
    monkeypatch.delenv(fonts.FONT_ENV, raising=False)
    found = fonts.find_cjk_font()
    assert found is not None
    assert found.name == "wqy-microhei.ttc"
