"""Append to and read the per-store event log.

Positions come from one counter row per store, updated inside the writing transaction. The row lock
is held until commit, so the next writer of the store gets the next number only after the previous
one has committed: positions have no gaps and become visible in position order. A reader asking for
"everything after N" can therefore never skip an event that commits late.

Lock order for every transaction that changes tickets (``docs/performance.md``, "Lock order"):

1. advisory keys, all in one statement, in key order (a checkout's id and member; a command chunk's
   devices and buckets of its command ids, ticket ids and numbers); a refund takes its checkout's row;
2. ticket rows, ``FOR UPDATE`` in id order, in one statement;
3. everything else the change writes (ledger, shift, checkout, ticket and command rows);
4. deferred triggers (the sales facts), run with ``run_deferred`` when the transaction queued any;
5. last, the store's counter: ``append_all`` takes it and writes the events, then the caller commits.

The counter's holder never waits for another lock (its statement writes only event rows whose
parents the transaction already holds), so it cannot be part of a deadlock, and it holds the lock
only for the append and the commit: writers of one store do their row work side by side and queue
only for that end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import msgspec

from protocol.tickets import Ticket, TicketEvent

CHANNEL = "ft_events"
"""NOTIFY channel; the payload is the store id, or ``<store id>:<last position>`` when the writer knows
the last position it committed. It is only a nudge to read the log."""

LOCK_STORE = """
INSERT INTO event_counter (store_id) VALUES ($1)
ON CONFLICT (store_id) DO UPDATE SET last_position = event_counter.last_position
RETURNING last_position
"""

# One round trip: reserve the next positions (creating the store's counter row on its first event),
# write the events, nudge listeners with the last position. The nudge is delivered at commit.
APPEND_ALL = """
WITH k AS (
    INSERT INTO event_counter AS c (store_id, last_position) VALUES ($1, cardinality($2::text[]))
    ON CONFLICT (store_id) DO UPDATE SET last_position = c.last_position + EXCLUDED.last_position
    RETURNING last_position
), ins AS (
    INSERT INTO event_log (store_id, position, kind, ticket_id, payload, at)
    SELECT $1, k.last_position - cardinality($2::text[]) + u.n, u.kind, u.ticket_id, u.payload::jsonb,
           to_timestamp(u.at_ms / 1000.0)
    FROM k, unnest($2::text[], $3::uuid[], $4::text[], $5::bigint[]) WITH ORDINALITY AS u(kind, ticket_id, payload,
                                                                                         at_ms, n)
)
SELECT k.last_position - cardinality($2::text[]) + 1 AS first, pg_notify($6, $1::text || ':' || k.last_position)
FROM k
"""

# The deferred triggers are the sales facts of paid tickets (0007_analytics), one call per ticket of a
# few PL/pgSQL statements on one ticket each. Their custom plans would be planned again on every call
# (a third of their cost); their generic plans (index lookups by ticket) are as good. One round trip.
RUN_DEFERRED = (
    "SET LOCAL plan_cache_mode = force_generic_plan; SET CONSTRAINTS ALL IMMEDIATE; SET LOCAL plan_cache_mode = DEFAULT"
)
READ_AFTER = """
SELECT position, kind, payload::text AS payload, (extract(epoch FROM at) * 1000)::bigint AS at_ms
FROM event_log WHERE store_id = $1 AND position > $2 ORDER BY position LIMIT $3
"""

HEAD = "SELECT coalesce((SELECT last_position FROM event_counter WHERE store_id = $1), 0)"

_ticket = msgspec.json.Decoder(Ticket)
_enc = msgspec.json.Encoder()


@dataclass(frozen=True)
class NewEvent:
    """An event decided in a transaction, not yet given its position."""

    kind: str
    ticket_id: uuid.UUID
    payload: str  # the ticket after the change, as JSON
    at_ms: int

    def frame(self, position: int, store_id: str) -> bytes:
        """Its websocket ``EventFrame`` once it has ``position``."""
        return event_frame(position, store_id, self.kind, self.payload, self.at_ms)


def new_event(kind: str, ticket: Ticket) -> NewEvent:
    return NewEvent(kind, ticket.id, _enc.encode(ticket).decode(), time.time_ns() // 1_000_000)


async def lock_store(conn: asyncpg.Connection, store_id: uuid.UUID) -> int:
    """Take the store's event-log lock for the rest of the transaction; return the last position.

    ``append_all`` takes it itself; this is for holding the store's writers back at their append
    (tests, maintenance). Nothing may be locked after it (see the lock order above).
    """
    return int(await conn.fetchval(LOCK_STORE, store_id))


async def run_deferred(conn: asyncpg.Connection) -> None:
    """Run the transaction's deferred triggers now (step 4 of the lock order): the sales facts of paid
    tickets take row locks, and must not wait while the store's counter is held."""
    await conn.execute(RUN_DEFERRED)


async def append_all(conn: asyncpg.Connection, store_id: uuid.UUID, new: Sequence[NewEvent]) -> int:
    """Append ``new`` in order as the transaction's last lock (step 5); return the first position
    (the others follow it without a gap). The caller commits right after."""
    if not conn.is_in_transaction():
        raise RuntimeError("events.append_all must run inside the transaction that makes the change")
    if not new:
        raise ValueError("nothing to append")
    first = await conn.fetchval(
        APPEND_ALL,
        store_id,
        [e.kind for e in new],
        [e.ticket_id for e in new],
        [e.payload for e in new],
        [e.at_ms for e in new],
        CHANNEL,
    )
    return int(first)


async def append(conn: asyncpg.Connection, store_id: uuid.UUID, kind: str, ticket: Ticket) -> int:
    """Append one event in the caller's transaction and return its position (``append_all`` of one)."""
    return await append_all(conn, store_id, [new_event(kind, ticket)])


async def read_after(
    conn: asyncpg.Connection, store_id: uuid.UUID, position: int, limit: int = 500
) -> list[TicketEvent]:
    """Events of the store after ``position`` in position order (at most ``limit``)."""
    rows = await conn.fetch(READ_AFTER, store_id, position, limit)
    return [
        TicketEvent(
            position=r["position"],
            store_id=store_id,
            kind=r["kind"],
            ticket=_ticket.decode(r["payload"]),
            at_ms=r["at_ms"],
        )
        for r in rows
    ]


async def read_frames_after(
    conn: asyncpg.Connection, store_id: uuid.UUID, position: int, limit: int = 500
) -> list[tuple[int, bytes]]:
    """Like ``read_after`` but already encoded as websocket ``EventFrame`` bytes (no re-encoding)."""
    rows = await conn.fetch(READ_AFTER, store_id, position, limit)
    sid = str(store_id)
    return [(r["position"], event_frame(r["position"], sid, r["kind"], r["payload"], r["at_ms"])) for r in rows]


def event_frame(position: int, store_id: str, kind: str, ticket_json: str, at_ms: int) -> bytes:
    """The websocket ``EventFrame`` of one event, from the ticket's JSON as stored (no re-encoding)."""
    return (
        f'{{"type":"event","event":{{"position":{position},"store_id":"{store_id}",'
        f'"kind":"{kind}","ticket":{ticket_json},"at_ms":{at_ms}}}}}'
    ).encode()


async def head(conn: asyncpg.Connection, store_id: uuid.UUID) -> int:
    """The last committed position of the store (0 when it has no events)."""
    return int(await conn.fetchval(HEAD, store_id))
