"""``python -m handheld_app``: the floor handheld against the server in the settings (default local)."""

from __future__ import annotations

import asyncio
import os


def main() -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "width", os.environ.get("FT_WINDOW_WIDTH", "480"))
    Config.set("graphics", "height", os.environ.get("FT_WINDOW_HEIGHT", "800"))
    Config.set("kivy", "exit_on_escape", "0")

    from client_common.ui.fonts import register_fonts

    register_fonts()

    from handheld_app.app import HandheldApp
    from handheld_app.wiring import build_services

    app = HandheldApp()
    app.services = build_services(app.user_data_dir)
    asyncio.run(app.async_run(async_lib="asyncio"))


if __name__ == "__main__":
    main()
