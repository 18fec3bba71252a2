"""Kivy set up for a GUI driver process, before anything of Kivy's windowing is imported: no command
line parsing, the window's size, Escape not closing the app, and the Chinese-capable font."""

from __future__ import annotations

import os

HANDHELD = (480, 800)
TILL = (1280, 800)


def configure(size: tuple[int, int]) -> str:
    """Configure Kivy for a window of ``size``; return the registered font's name."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("kivy", "exit_on_escape", "0")
    from client_common.ui.fonts import register_fonts

    return register_fonts()
