"""The durable event log: gap-free positions per store, visible in position order, never skipped."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from protocol.ids import new_id
from protocol.tickets import Ticket, TicketLine
from server import events
from server.demo import DemoInfo


def a_ticket(store_id: object) -> Ticket:
    line = TicketLine(
        line_no=1, product_id=new_id(), sku="X", name="x", qty=1, list_price=100, unit_price=100, line_total=100
    )
    return Ticket(
        id=new_id(),
        store_id=store_id,  # type: ignore[arg-type]
        counter_id=new_id(),
        device_id=new_id(),
        staff_id=None,
        number="N",
        lines=[line],
        total=100,
    )


class Rollback(Exception):
    pass


async def test_append_and_read_after(conn: asyncpg.Connection, demo: DemoInfo) -> None:
    store = demo.store_id
    assert await events.head(conn, store) == 0
    tickets = [a_ticket(store) for _ in range(5)]
    async with conn.transaction():
        positions = [await events.append(conn, store, "ticket_issued", t) for t in tickets]
    assert positions == [1, 2, 3, 4, 5]
    assert await events.head(conn, store) == 5
    page = await events.read_after(conn, store, 2, 2)
    assert [e.position for e in page] == [3, 4]
    assert [e.ticket for e in page] == tickets[2:4]
    assert [e.position for e in await events.read_after(conn, store, 5, 10)] == []
    frames = await events.read_frames_after(conn, store, 4, 10)
    assert [p for p, _ in frames] == [5]
    assert str(tickets[4].id).encode() in frames[0][1]
    with pytest.raises(RuntimeError):
        await events.append(conn, store, "ticket_issued", tickets[0])  # not in a transaction
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("DELETE FROM event_log")


async def test_a_rolled_back_change_leaves_no_gap(conn: asyncpg.Connection, demo: DemoInfo) -> None:
    store = demo.store_id
    async with conn.transaction():
        await events.append(conn, store, "ticket_issued", a_ticket(store))

    async def change_then_fail() -> None:
        async with conn.transaction():
            await events.append(conn, store, "ticket_issued", a_ticket(store))
            raise Rollback

    with pytest.raises(Rollback):
        await change_then_fail()
    async with conn.transaction():
        assert await events.append(conn, store, "ticket_issued", a_ticket(store)) == 2


async def test_a_late_commit_is_never_skipped(db_dsn: str, demo: DemoInfo) -> None:
    """Writer A appends first but commits last: B must wait, so a reader never sees 2 before 1."""
    store = demo.store_id
    a, b, reader = [await asyncpg.connect(db_dsn) for _ in range(3)]
    try:
        async with a.transaction():
            await events.lock_store(a, store)
        ta = a.transaction()
        await ta.start()
        assert await events.append(a, store, "ticket_issued", a_ticket(store)) == 1

        async def write_b() -> int:
            async with b.transaction():
                return await events.append(b, store, "ticket_issued", a_ticket(store))

        pending_b = asyncio.create_task(write_b())
        await asyncio.sleep(0.2)
        assert not pending_b.done()  # B waits for A instead of committing position 2 first
        assert await events.read_after(reader, store, 0, 10) == []
        await ta.commit()
        assert await pending_b == 2
        assert [e.position for e in await events.read_after(reader, store, 0, 10)] == [1, 2]
    finally:
        for c in (a, b, reader):
            await c.close()


async def test_a_plain_sequence_read_as_id_greater_than_last_does_skip(conn: asyncpg.Connection, db_dsn: str) -> None:
    """Why the counter row: with a bigserial, a late commit is skipped by a reader that moved on."""
    await conn.execute("CREATE TABLE naive_log (id bigserial PRIMARY KEY)")
    late = await asyncpg.connect(db_dsn)
    try:
        tx = late.transaction()
        await tx.start()
        await late.execute("INSERT INTO naive_log DEFAULT VALUES")  # takes id 1, not committed yet
        await conn.execute("INSERT INTO naive_log DEFAULT VALUES")  # id 2 commits first
        seen = [r["id"] for r in await conn.fetch("SELECT id FROM naive_log WHERE id > 0 ORDER BY id")]
        await tx.commit()
        after = [r["id"] for r in await conn.fetch("SELECT id FROM naive_log WHERE id > $1 ORDER BY id", seen[-1])]
        assert seen == [2]
        assert after == []  # id 1 is never delivered
    finally:
        await late.close()


async def test_many_writers_out_of_order_and_a_tailing_reader_see_each_event_once(db_dsn: str, demo: DemoInfo) -> None:
    store = demo.store_id
    writers, per_writer = 10, 25
    committed: list[int] = []
    rng = random.Random(7)
    done = asyncio.Event()

    async def writer(n: int) -> None:
        conn = await asyncpg.connect(db_dsn)
        try:
            for _ in range(per_writer):
                try:
                    async with conn.transaction():
                        await asyncio.sleep(rng.random() * 0.002)  # work before the change
                        position = await events.append(conn, store, "ticket_issued", a_ticket(store))
                        await asyncio.sleep(rng.random() * 0.003)  # hold the transaction open a while
                        if rng.random() < 0.15:
                            raise Rollback
                    committed.append(position)
                except Rollback:
                    pass
        finally:
            await conn.close()

    async def reader() -> list[int]:
        conn = await asyncpg.connect(db_dsn)
        seen: list[int] = []
        try:
            while True:
                finished = done.is_set()
                page = await events.read_after(conn, store, seen[-1] if seen else 0, 7)
                seen.extend(e.position for e in page)
                if finished and not page:
                    return seen
                if not page:
                    await asyncio.sleep(0.001)
        finally:
            await conn.close()

    tail = asyncio.create_task(reader())
    await asyncio.gather(*(writer(n) for n in range(writers)))
    done.set()
    seen = await tail
    assert seen == list(range(1, len(committed) + 1))  # in order, no gap, no repeat
    assert sorted(committed) == seen
    assert 0 < len(committed) < writers * per_writer  # some rolled back, and still no gap
