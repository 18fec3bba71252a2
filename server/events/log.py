"""Append to and read the per-store event log.

Positions come from one counter row per store, updated inside the writing transaction. The row lock
is held until commit, so the next writer of the store gets the next number only after the previous
one has committed: positions have no gaps and become visible in position order. A reader asking for
"everything after N" can therefore never skip an event that commits late.

Lock order for every transaction that changes tickets: ``lock_store`` first, then ticket rows.
"""

from __future__ import annotations

import time
import uuid

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

# One round trip: take the next position, write the event, nudge listeners. NOTIFY carries only the
# store id, so PostgreSQL folds the nudges of one transaction into one (identical payloads collapse).
APPEND = """
WITH next AS (
    UPDATE event_counter SET last_position = last_position + 1 WHERE store_id = $1 RETURNING last_position
), ins AS (
    INSERT INTO event_log (store_id, position, kind, ticket_id, payload, at)
    SELECT $1, last_position, $2, $3, $4::text::jsonb, to_timestamp($5 / 1000.0) FROM next
    RETURNING position
)
SELECT position, pg_notify($6, $1::text) FROM ins
"""

READ_AFTER = """
SELECT position, kind, payload::text AS payload, (extract(epoch FROM at) * 1000)::bigint AS at_ms
FROM event_log WHERE store_id = $1 AND position > $2 ORDER BY position LIMIT $3
"""

HEAD = "SELECT coalesce((SELECT last_position FROM event_counter WHERE store_id = $1), 0)"

_ticket = msgspec.json.Decoder(Ticket)
_enc = msgspec.json.Encoder()


async def lock_store(conn: asyncpg.Connection, store_id: uuid.UUID) -> int:
    """Take the store's event-log lock for the rest of the transaction; return the last position.

    Call it first in a transaction that will change tickets of the store (before locking ticket rows)
    so writers of one store always lock in the same order.
    """
    return int(await conn.fetchval(LOCK_STORE, store_id))


async def append(conn: asyncpg.Connection, store_id: uuid.UUID, kind: str, ticket: Ticket) -> int:
    """Append one event in the caller's transaction and return its position."""
    if not conn.is_in_transaction():
        raise RuntimeError("events.append must run inside the transaction that makes the change")
    at_ms = time.time_ns() // 1_000_000
    payload = _enc.encode(ticket).decode()
    # The nudge is delivered at commit, only if the transaction commits; readers then read the log.
    position = await conn.fetchval(APPEND, store_id, kind, ticket.id, payload, at_ms, CHANNEL)
    if position is None:  # the store's first event: create its counter row, then append
        await conn.fetchval(LOCK_STORE, store_id)
        position = await conn.fetchval(APPEND, store_id, kind, ticket.id, payload, at_ms, CHANNEL)
    return int(position)


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
