"""The live queue: every open ticket of the store, grouped by customer (member), oldest first.

Fed by the store's ticket events (catch-up, then live): an ``issued`` ticket joins the queue, any
other state (paid, voided, expired, released) leaves it; attaching a member regroups it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cashier_app.presenters.ports import TicketEvents
from client_common.i18n import translator
from client_common.money_text import fmt
from client_common.presenters.observable import Observable
from protocol.tickets import Ticket, TicketEvent

translator.add(
    {
        "en": {
            "queue.title": "Open tickets",
            "queue.empty": "No open tickets in the store.",
            "queue.walk_in": "No member",
            "queue.member": "Member {name}",
            "queue.detail": "{count} tickets · {numbers}",
            "queue.summary": "{groups} customers · {tickets} tickets · {total}",
        },
        "zh": {
            "queue.title": "待付小票",
            "queue.empty": "本店没有待付小票。",
            "queue.walk_in": "非会员",
            "queue.member": "会员 {name}",
            "queue.detail": "{count} 张 · {numbers}",
            "queue.summary": "{groups} 位顾客 · {tickets} 张小票 · {total}",
        },
    }
)


@dataclass(frozen=True)
class QueueGroup:
    """One customer in the queue: a member's tickets together, or a single ticket without a member."""

    member_id: uuid.UUID | None
    tickets: tuple[Ticket, ...]
    title: str
    detail: str
    total: int
    first_issued_ms: int

    @property
    def code(self) -> str:
        """What to look the customer up by (the first ticket's number)."""
        return self.tickets[0].number

    @property
    def total_text(self) -> str:
        return fmt(self.total)


class TicketQueue(Observable):
    def __init__(self, events: TicketEvents) -> None:
        super().__init__()
        self._events = events
        self._open: dict[uuid.UUID, Ticket] = {}
        self.position = 0
        self._unsubscribe = events.subscribe(self.apply)

    def apply(self, event: TicketEvent) -> None:
        if event.position and event.position <= self.position:
            return  # already seen (a replayed catch-up)
        self.position = max(self.position, event.position)
        ticket = event.ticket
        if ticket.state == "issued":
            self._open[ticket.id] = ticket
        else:
            self._open.pop(ticket.id, None)
        self.changed()

    def close(self) -> None:
        self._unsubscribe()

    @property
    def groups(self) -> list[QueueGroup]:
        by_member: dict[uuid.UUID, list[Ticket]] = {}
        singles: list[list[Ticket]] = []
        for t in self._open.values():
            if t.member_id is None:
                singles.append([t])
            else:
                by_member.setdefault(t.member_id, []).append(t)
        groups = [self._group(ts) for ts in (*by_member.values(), *singles)]
        return sorted(groups, key=lambda g: (g.first_issued_ms, g.code))

    def _group(self, tickets: list[Ticket]) -> QueueGroup:
        tickets.sort(key=lambda t: (t.issued_at_ms, t.number))
        member_id = tickets[0].member_id
        tr = translator.tr
        if member_id is None:
            title = tr("queue.walk_in")
        else:
            title = tr("queue.member", name=self._events.member_name(member_id) or str(member_id)[-4:])
        return QueueGroup(
            member_id=member_id,
            tickets=tuple(tickets),
            title=title,
            detail=tr("queue.detail", count=len(tickets), numbers=", ".join(t.number for t in tickets)),
            total=sum(t.total for t in tickets),
            first_issued_ms=tickets[0].issued_at_ms,
        )

    @property
    def ticket_count(self) -> int:
        return len(self._open)

    @property
    def summary(self) -> str:
        groups = self.groups
        if not groups:
            return translator.tr("queue.empty")
        return translator.tr(
            "queue.summary",
            groups=len(groups),
            tickets=self.ticket_count,
            total=fmt(sum(g.total for g in groups)),
        )
