"""``python -m cashier_app``: the cashier station against the server in the settings (default local)."""

from __future__ import annotations

import asyncio
import os


def main() -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "width", os.environ.get("FT_WINDOW_WIDTH", "1280"))
    Config.set("graphics", "height", os.environ.get("FT_WINDOW_HEIGHT", "800"))
    Config.set("kivy", "exit_on_escape", "0")

    from client_common.ui.fonts import register_fonts

    register_fonts()

    from cashier_app.app import CashierApp
    from cashier_app.wiring import build_services

    app = CashierApp()
    app.services = build_services(app.user_data_dir)
    asyncio.run(app.async_run(async_lib="asyncio"))


if __name__ == "__main__":
    main()
