"""Every writer of a store's tickets takes the store's event counter last, for its append only.

Checkouts, refunds, ticket edits (void, attach, release), uploads (also of the same outbox twice at once, and a
till's upload of a handheld's scanned QR) and the end-of-day expiry run at once on overlapping tickets
of one store: nothing deadlocks, every position is handed out once without a gap, a reader tailing the
log sees them in order, and each ticket's last event is its state. While one transaction holds the
counter, the others do all their row work and wait only at their append.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from protocol.checkout import CheckoutRequest, CheckoutResult, RefundRequest
from protocol.ids import new_id
from protocol.qr import sign_ticket
from protocol.ticket_codes import CommandCodes
from protocol.tickets import AnyCommand, AttachMember, CommandResult, ReleaseTicket, Ticket, VoidTicket
from server import events
from server.auth.guards import DeviceCaller
from server.checkout import refunds, service
from server.checkout.service import Payments
from server.errors import AppError
from server.ledger.jobs import check_invariants
from server.settings import Settings
from server.sync.service import apply_commands
from server.tickets.expiry import expire_due
from tests.server.checkout.conftest import CONFIG, Shop, checkout, tender
from tests.ticket_helpers import draft, give_key, issue

WAITING_AT_APPEND = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO event_counter%'
"""

DEADLOCKS = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"


async def _tail(dsn: str, store: uuid.UUID, stop: asyncio.Event) -> list[int]:
    conn = await asyncpg.connect(dsn)
    seen: list[int] = []
    try:
        while True:
            finished = stop.is_set()
            page = await events.read_after(conn, store, seen[-1] if seen else 0, 50)
            seen += [e.position for e in page]
            if finished and not page:
                return seen
            if not page:
                await asyncio.sleep(0.002)
    finally:
        await conn.close()


async def test_checkouts_refunds_edits_uploads_and_expiry_at_once_never_deadlock_and_leave_no_gap(
    db_dsn: str, conn: asyncpg.Connection, shop: Shop, pay: Payments, settings: Settings
) -> None:
    rng = random.Random(11)
    member = shop.members["QR-ZM-0001"]
    tickets: list[Ticket] = [await shop.issue(conn, rng.choice(["apple", "huawei"])) for _ in range(14)]
    till = shop.till
    seed = await give_key(conn, shop.hh_apple.device_id)
    deadlocks_before = int(await conn.fetchval(DEADLOCKS))
    stop = asyncio.Event()
    tail = asyncio.create_task(_tail(db_dsn, shop.store_id, stop))
    refused: list[str] = []
    answers: list[CommandResult] = []

    settled: list[CheckoutResult] = []

    async def checkouts(n: int) -> None:
        c = await asyncpg.connect(db_dsn)
        try:
            for _ in range(8):
                some = rng.sample(tickets, rng.randint(1, 3))  # overlapping, in any order
                req = checkout(some, tender("cash", sum(t.total for t in some)))
                try:
                    settled.append(await service.settle(c, shop.who(), req, pay, CONFIG))
                except AppError as exc:  # a clean refusal: paid, voided or changed meanwhile
                    refused.append(exc.code)
        finally:
            await c.close()

    async def refunds_of_settled() -> None:
        c = await asyncpg.connect(db_dsn)
        made = 0
        try:
            for _ in range(200):  # three refunds of settled checkouts, while the others work
                await asyncio.sleep(0.02)
                if not settled:
                    continue
                done = settled.pop(rng.randrange(len(settled)))
                req = RefundRequest(id=new_id(), checkout_id=done.id, ticket_ids=[done.tickets[0].id])
                await refunds.refund(c, shop.who(), req, pay, CONFIG, settings)
                made += 1
                if made == 3:
                    return
        finally:
            await c.close()

    async def edits(hh: DeviceCaller, seqs: range) -> None:
        c = await asyncpg.connect(db_dsn)
        try:
            for seq in seqs:
                some = rng.sample(tickets, 6)
                base = 100 + seq * 10  # after the sequence numbers of the tickets issued above
                cmds: list[AnyCommand] = [
                    VoidTicket(command_id=new_id(), device_seq=base, ticket_id=some[0].id, reason="test"),
                    AttachMember(command_id=new_id(), device_seq=base + 1, ticket_id=some[1].id, member_id=member),
                    ReleaseTicket(command_id=new_id(), device_seq=base + 2, ticket_id=some[2].id),
                    VoidTicket(command_id=new_id(), device_seq=base + 3, ticket_id=some[3].id, reason="test"),
                    AttachMember(command_id=new_id(), device_seq=base + 4, ticket_id=some[4].id, member_id=member),
                    ReleaseTicket(command_id=new_id(), device_seq=base + 5, ticket_id=some[5].id),
                ]
                if hh.kind == "handheld":
                    cmds.append(issue(draft(shop.apple if hh is shop.hh_apple else shop.huawei), base + 6))
                rng.shuffle(cmds)
                results, _ = await apply_commands(c, hh, cmds)
                answers.extend(results)
        finally:
            await c.close()

    async def upload_twice_and_scanned() -> None:
        """The same outbox from two connections at once, and a till uploading one of its scanned QRs."""
        cmds = [issue(draft(shop.apple), seq) for seq in range(1000, 1040)]
        scanned = msgspec.structs.replace(cmds[7], scanned_qr=sign_ticket(cmds[7], shop.hh_apple.device_id, seed))
        conns = [await asyncpg.connect(db_dsn) for _ in range(3)]
        try:
            outcomes = await asyncio.gather(
                apply_commands(conns[0], shop.hh_apple, cmds),
                apply_commands(conns[1], shop.hh_apple, cmds[::-1]),
                apply_commands(conns[2], till, [scanned]),
            )
        finally:
            for c in conns:
                await c.close()
        for results, _ in outcomes:
            answers.extend(results)

    async def expiry() -> None:
        c = await asyncpg.connect(db_dsn)
        try:
            for _ in range(3):
                await asyncio.sleep(0.3)
                await expire_due(c, datetime.now(UTC) + timedelta(days=3), batch=5)
        finally:
            await c.close()

    await asyncio.wait_for(
        asyncio.gather(
            *(checkouts(n) for n in range(6)),
            refunds_of_settled(),
            edits(shop.hh_apple, range(1, 9)),
            edits(shop.hh_huawei, range(1, 9)),
            edits(till, range(1, 9)),
            upload_twice_and_scanned(),
            expiry(),
        ),
        timeout=60,
    )
    stop.set()
    seen = await tail

    assert not [a for a in answers if a.error is not None and a.error.code == CommandCodes.FAILED]
    assert {a.status for a in answers} <= {"applied", "replayed", "rejected"}
    head = await events.head(conn, shop.store_id)
    assert seen == list(range(1, head + 1))  # in order, no gap, none twice
    positions = [r[0] for r in await conn.fetch("SELECT position FROM event_log ORDER BY position")]
    assert positions == seen
    # The log agrees with the tables: each ticket's last event carries its state now.
    mismatched = await conn.fetch(
        """SELECT t.id, t.state, e.payload ->> 'state' AS logged FROM ticket t
           JOIN LATERAL (SELECT payload FROM event_log WHERE ticket_id = t.id ORDER BY position DESC LIMIT 1) e
             ON true
           WHERE t.store_id = $1 AND t.state <> e.payload ->> 'state'""",
        shop.store_id,
    )
    assert mismatched == []
    paid = await conn.fetchval("SELECT count(*) FROM ticket WHERE state IN ('paid', 'released')")
    assert paid > 0
    assert refused, "the workers really overlapped"
    assert await conn.fetchval("SELECT count(*) FROM ticket WHERE state = 'expired'") > 0
    assert await conn.fetchval("SELECT count(*) FROM refund") > 0
    assert await conn.fetchval("SELECT count(*) FROM applied_command WHERE device_seq BETWEEN 1000 AND 1039") == 40
    assert (await check_invariants(conn)).ok
    await asyncio.sleep(0.2)  # the finished sessions' statistics reach the view
    assert int(await conn.fetchval(DEADLOCKS)) == deadlocks_before


async def test_while_the_counter_is_held_other_writers_finish_their_row_work_and_wait_only_to_append(
    db_dsn: str, conn: asyncpg.Connection, shop: Shop, pay: Payments
) -> None:
    member = shop.members["QR-ZM-0001"]
    mine = [await shop.issue(conn, "apple", member_id=member), await shop.issue(conn, "huawei", member_id=member)]
    other = await shop.issue(conn, "apple")
    to_void = await shop.issue(conn, "huawei")
    blocker = await asyncpg.connect(db_dsn)
    conns = [await asyncpg.connect(db_dsn) for _ in range(3)]
    held = blocker.transaction()
    await held.start()
    try:
        await events.lock_store(blocker, shop.store_id)  # e.g. a transaction about to commit its events
        first: CheckoutRequest = checkout(
            mine, tender("card", 10_000), tender("cash", sum(t.total for t in mine)), member_id=member
        )
        work: list[Any] = [
            service.settle(conns[0], shop.who(), first, pay, CONFIG),
            service.settle(conns[1], shop.who(), checkout([other], tender("cash", other.total)), pay, CONFIG),
            apply_commands(
                conns[2],
                shop.hh_huawei,
                [VoidTicket(command_id=new_id(), device_seq=900, ticket_id=to_void.id, reason="test")],
            ),
        ]
        tasks = [asyncio.create_task(w) for w in work]
        for _ in range(400):
            if await conn.fetchval(WAITING_AT_APPEND) == 3:
                break
            await asyncio.sleep(0.01)
        # All three did their row work side by side (member balances, earning, shift, receipt, ticket
        # rows) and now wait for the counter only, at their append.
        assert await conn.fetchval(WAITING_AT_APPEND) == 3
        assert not any(t.done() for t in tasks)
        assert await conn.fetchval("SELECT count(*) FROM event_log") == 4  # the four issued tickets only
    finally:
        await held.rollback()
        await blocker.close()
    try:
        done = await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    finally:
        for c in conns:
            await c.close()
    assert done[0].tickets
    assert done[1].tickets
    (voided,), _ = done[2]
    assert voided.status == "applied"
    assert voided.position is not None
    assert 5 <= voided.position <= 8
    assert [r[0] for r in await conn.fetch("SELECT position FROM event_log ORDER BY position")] == list(range(1, 9))
