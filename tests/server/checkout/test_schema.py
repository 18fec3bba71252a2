"""The database itself keeps the checkout rules, whatever a code path does."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from protocol.ids import new_id
from server.demo import DemoInfo


async def _checkout(
    conn: asyncpg.Connection, store_id: uuid.UUID, state: str = "settled", total: int = 1000
) -> uuid.UUID:
    cid = new_id()
    await conn.execute(
        "INSERT INTO checkout (id, store_id, mode, state, currency, total, tendered, change, request, result)"
        " VALUES ($1, $2, 'till', $3, 'CNY', $4, $4, 0, '{}', '{}')",
        cid,
        store_id,
        state,
        total,
    )
    return cid


async def _link(conn: asyncpg.Connection, checkout_id: uuid.UUID, ticket_id: uuid.UUID, store_id: uuid.UUID) -> None:
    counter = await conn.fetchval("SELECT id FROM counter WHERE store_id = $1 LIMIT 1", store_id)
    state = await conn.fetchval("SELECT state FROM checkout WHERE id = $1", checkout_id)
    await conn.execute(
        "INSERT INTO checkout_ticket (checkout_id, state, ticket_id, seq, store_id, counter_id, number, amount)"
        " VALUES ($1, $2, $3, 1, $4, $5, 'N-1', 1000)",
        checkout_id,
        state,
        ticket_id,
        store_id,
        counter,
    )


async def test_a_ticket_is_in_at_most_one_settled_checkout(conn: asyncpg.Connection, demo: DemoInfo) -> None:
    ticket = new_id()
    first = await _checkout(conn, demo.store_id)
    await _link(conn, first, ticket, demo.store_id)
    second = await _checkout(conn, demo.store_id)
    with pytest.raises(asyncpg.UniqueViolationError):
        await _link(conn, second, ticket, demo.store_id)
    # a losing settlement may be kept for the exception queue, just not as settled
    lost = await _checkout(conn, demo.store_id, state="conflict")
    await _link(conn, lost, ticket, demo.store_id)
    # and it cannot be turned into a second settled one later
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute("UPDATE checkout SET state = 'settled' WHERE id = $1", lost)


async def test_checkout_ticket_state_follows_its_checkout(conn: asyncpg.Connection, demo: DemoInfo) -> None:
    cid = await _checkout(conn, demo.store_id)
    await _link(conn, cid, new_id(), demo.store_id)
    await conn.execute("UPDATE checkout SET state = 'conflict' WHERE id = $1", cid)
    assert await conn.fetchval("SELECT state FROM checkout_ticket WHERE checkout_id = $1", cid) == "conflict"
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute("UPDATE checkout_ticket SET state = 'settled' WHERE checkout_id = $1", cid)


async def test_tender_figures_hold(conn: asyncpg.Connection, demo: DemoInfo) -> None:
    cid = await _checkout(conn, demo.store_id)
    insert = (
        "INSERT INTO tender (id, checkout_id, seq, kind, tendered, applied, change) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    with pytest.raises(asyncpg.CheckViolationError):  # change only from cash
        await conn.execute(insert, new_id(), cid, 1, "card", 1200, 1000, 200)
    with pytest.raises(asyncpg.CheckViolationError):  # change must balance
        await conn.execute(insert, new_id(), cid, 1, "cash", 1200, 1000, 100)
    with pytest.raises(asyncpg.CheckViolationError):  # no zero tenders
        await conn.execute(insert, new_id(), cid, 1, "wallet", 0, 0, 0)
    tid = new_id()
    await conn.execute(insert, tid, cid, 1, "cash", 1200, 1000, 200)
    with pytest.raises(asyncpg.CheckViolationError):  # never give back more than the tender paid
        await conn.execute("UPDATE tender SET refunded = 1001 WHERE id = $1", tid)
    await conn.execute("UPDATE tender SET refunded = 1000 WHERE id = $1", tid)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # figures are kept
        await conn.execute("UPDATE tender SET applied = 900 WHERE id = $1", tid)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("UPDATE checkout SET total = 1 WHERE id = $1", cid)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM tender WHERE id = $1", tid)


async def test_refunds_are_append_only(conn: asyncpg.Connection, demo: DemoInfo) -> None:
    cid = await _checkout(conn, demo.store_id)
    rid = new_id()
    await conn.execute(
        "INSERT INTO refund (id, checkout_id, store_id, amount, request, result) VALUES ($1, $2, $3, 500, '{}', '{}')",
        rid,
        cid,
        demo.store_id,
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("UPDATE refund SET amount = 1 WHERE id = $1", rid)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM refund WHERE id = $1", rid)
    with pytest.raises(asyncpg.CheckViolationError):  # a checkout never refunds more than its total
        await conn.execute("UPDATE checkout SET refunded = 1001 WHERE id = $1", cid)
