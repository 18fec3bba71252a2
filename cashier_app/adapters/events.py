"""``TicketEvents`` over the device store and the transport: the tickets the store already holds first
(written by earlier sessions, so a restarted till shows its queue at once), then each live event."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from client_common.store import DeviceStore
from protocol.tickets import TicketEvent

Listener = Callable[[TicketEvent], None]


class StoreTicketEvents:
    def __init__(self, store: DeviceStore, names: Callable[[uuid.UUID], str] = lambda _id: "") -> None:
        self._store = store
        self._names = names
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        held = sorted(self._store.confirmed_tickets(), key=lambda t: (t.issued_at_ms, t.number))
        for ticket in held:  # position 0: a snapshot, not a log entry; live events carry real positions
            listener(
                TicketEvent(position=0, store_id=ticket.store_id, kind=f"ticket_{ticket.state}", ticket=ticket, at_ms=0)
            )
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: TicketEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def member_name(self, member_id: uuid.UUID) -> str:
        return self._names(member_id)
