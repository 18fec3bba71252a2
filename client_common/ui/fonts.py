"""A font that shows Chinese. Kivy's bundled Roboto has no CJK glyphs (every character is a box), so
the apps register WenQuanYi Micro Hei (Debian/Ubuntu package ``fonts-wqy-microhei``) as the default
font before the first label is made."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

FONT_ENV = "FT_CJK_FONT"
KNOWN_LOCATIONS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
MISSING = (
    "No Chinese font found: Chinese text will show as boxes. Install the fonts-wqy-microhei package "
    f"(apt-get install fonts-wqy-microhei) or set {FONT_ENV} to a .ttf/.ttc file with Chinese glyphs."
)


def find_cjk_font() -> Path | None:
    """The font file to use: ``FT_CJK_FONT``, then fontconfig's Chinese fonts, then known locations."""
    configured = os.environ.get(FONT_ENV)
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    for path in _fontconfig_chinese():
        if path.is_file():
            return path
    return next((Path(p) for p in KNOWN_LOCATIONS if Path(p).is_file()), None)


def _fontconfig_chinese() -> list[Path]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        out = subprocess.run([fc_list, ":lang=zh-cn", "file"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted({Path(line.split(":")[0].strip()) for line in out.splitlines() if line.strip()})
    # Micro Hei first: small, clear at handheld sizes, and what the install step provides.
    return sorted(files, key=lambda p: (0 if "microhei" in p.name.lower() else 1, str(p)))


def register_fonts() -> Path | None:
    """Make the Chinese font Kivy's default for every label; returns it, or None (logged) when missing."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = find_cjk_font()
    if path is None:
        log.warning(MISSING)
        return None
    LabelBase.register(DEFAULT_FONT, fn_regular=str(path), fn_bold=str(path))
    return path
