"""What every GUI driver does to a real Kivy window: wait frames, type like a scanner, press keys,
focus, take screenshots, locate widgets. Import it after ``kivy.config.Config`` has been set."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.core.window import Window


async def frames(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(1 / 30)


def save_shot(out: Path, name: str) -> str:
    made = Path(Window.screenshot(name=str(out / f"{name}.png")))
    target = out / f"{name}.png"
    made.rename(target)
    return str(target)


def bbox(widget: Any) -> list[int]:
    """Widget box in screenshot pixels (origin top-left)."""
    x, y = widget.to_window(*widget.pos)
    w, h = widget.size
    return [int(x), int(Window.height - y - h), int(x + w), int(Window.height - y)]


async def type_keys(text: str, enter: bool = True, *, per_key: bool = False, settle: int = 3) -> None:
    """Type ``text`` (then Enter) as a keyboard-wedge scanner does; ``per_key`` yields after each key."""
    for ch in text:
        Window.dispatch("on_textinput", ch)
        if per_key:
            await asyncio.sleep(0)
    if not per_key:
        await asyncio.sleep(0)
    if enter:
        Window.dispatch("on_key_down", 13, 40, None, [])
        Window.dispatch("on_key_up", 13, 40)
    await frames(settle)


async def key(code: int) -> None:
    Window.dispatch("on_key_down", code, 0, None, [])
    Window.dispatch("on_key_up", code, 0)
    await frames(3)


async def focus(widget: Any) -> None:
    widget.focus = True
    await frames(2)


async def until(check: Callable[[], object], what: str, timeout: float = 15) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.03)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None
