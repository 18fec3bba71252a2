"""What the connection bar shows: online or not, commands waiting, and commands the server refused.

The sync core and transport feed a ``ConnectionState``; ``describe`` turns it into the lines a store
person reads, each dead letter with the server's reason and what to do about it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from client_common.i18n import Translator, translator

Link = Literal["online", "offline", "connecting"]


@dataclass(frozen=True)
class DeadLetter:
    """A command the server refused; the rest of the outbox keeps flowing."""

    command_id: uuid.UUID
    what: str  # e.g. "Ticket SH01-C-APL-H3-000042"
    code: str  # the server's stable error code
    message: str  # the server's sentence


@dataclass(frozen=True)
class ConnectionState:
    link: Link = "connecting"
    outbox: int = 0
    dead_letters: tuple[DeadLetter, ...] = field(default_factory=tuple)
    catalog_loaded: int = 0  # items of the catalog load under way
    catalog_total: int = 0  # 0 when no catalog load is under way

    @property
    def catalog_progress(self) -> float | None:
        """0..1 while the catalog loads, else None."""
        return min(1.0, self.catalog_loaded / self.catalog_total) if self.catalog_total else None

    @property
    def online(self) -> bool:
        return self.link == "online"


@dataclass(frozen=True)
class BarText:
    status: str
    outbox: str
    dead: str  # empty when there are none
    details: tuple[str, ...]  # one line per dead letter: reason, then what to do
    level: Literal["ok", "warn", "error"]
    catalog: str = ""  # "Catalog 1,000 / 12,000" while a catalog load is under way


def advice(code: str, t: Translator = translator) -> str:
    """What a store person should do about a refusal with this code."""
    key = f"advice.{code}"
    text = t.tr(key)
    return t.tr("advice.default") if text == key else text


def describe(state: ConnectionState, t: Translator = translator) -> BarText:
    status = t.tr(f"conn.{state.link}")
    outbox = t.tr("conn.outbox", count=state.outbox) if state.outbox else t.tr("conn.outbox_empty")
    dead = t.tr("conn.dead", count=len(state.dead_letters)) if state.dead_letters else ""
    details = tuple(
        t.tr("conn.dead_item", what=d.what, message=d.message) + " — " + advice(d.code, t) for d in state.dead_letters
    )
    level: Literal["ok", "warn", "error"] = "error" if state.dead_letters else "ok" if state.online else "warn"
    catalog = (
        t.tr("conn.catalog", done=f"{state.catalog_loaded:,}", total=f"{state.catalog_total:,}")
        if state.catalog_total
        else ""
    )
    return BarText(status=status, outbox=outbox, dead=dead, details=details, level=level, catalog=catalog)


class ConnectionFeed:
    """The latest ``ConnectionState``; the transport writes, the bar listens."""

    def __init__(self) -> None:
        self.state = ConnectionState()
        self._listeners: list[Callable[[ConnectionState], None]] = []

    def update(self, state: ConnectionState) -> None:
        self.state = state
        for listener in list(self._listeners):
            listener(state)

    def observe(self, listener: Callable[[ConnectionState], None]) -> None:
        self._listeners.append(listener)
        listener(self.state)
