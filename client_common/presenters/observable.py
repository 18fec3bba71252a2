"""A presenter tells its view "redraw me" through ``changed``; views subscribe, tests count calls."""

from __future__ import annotations

from collections.abc import Callable


class Observable:
    def __init__(self) -> None:
        self._observers: list[Callable[[], None]] = []

    def observe(self, callback: Callable[[], None]) -> Callable[[], None]:
        self._observers.append(callback)
        return lambda: self._observers.remove(callback)

    def changed(self) -> None:
        for callback in list(self._observers):
            callback()
