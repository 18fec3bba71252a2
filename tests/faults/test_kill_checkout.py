"""kill -9 the server in the middle of a consolidated checkout, start it again, and let the till send the
same checkout again: it settles exactly once, the card is charged exactly once at the acquirer, every
ticket is paid once, the member earns once, and the ledger invariants hold.

Two moments: while the acquirer is charging the card (the simulator's "charged, answer lost" card keeps
the request waiting), and while the settling transaction is in flight (the test holds the store's
ticket lock so the transaction waits inside, after the card was approved).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from protocol.checkout import CheckoutRequest, CheckoutResult, TenderRequest
from protocol.ids import new_id
from protocol.payments import OpenShift
from server import events
from server.auth.guards import Caller
from server.demo import DemoInfo
from server.ledger.jobs import check_invariants
from server.shifts import service as shifts
from server.sync.service import apply_commands
from tests.auth_helpers import bearer, token_for
from tests.faults.servers import HEAD, POSITIONS, SECRET, ServerProcess
from tests.ticket_helpers import catalog, device, draft, issue

pytestmark = [pytest.mark.fault, pytest.mark.timeout(40)]

APPROVE = "4111111111111111"
CHARGED_ANSWER_LOST = "4000000000000119"  # the acquirer charges, the answer never comes back
CASH = 50_000
CASH_APPLIED = 30_000


@dataclass
class Counter:
    """A till with its signed-in cashier and open shift, and a member's three open tickets from two
    counters' handhelds."""

    store_id: uuid.UUID
    headers: dict[str, str]
    member_id: uuid.UUID
    ticket_ids: list[uuid.UUID]
    total: int

    def checkout(self, card: str) -> CheckoutRequest:
        return CheckoutRequest(
            id=new_id(),
            ticket_ids=self.ticket_ids,
            tenders=[
                TenderRequest(id=new_id(), kind="card", amount=self.total - CASH_APPLIED, token=card),
                TenderRequest(id=new_id(), kind="cash", amount=CASH),
            ],
            member_id=self.member_id,
            expected_total=self.total,
        )


async def till_with_tickets(conn: asyncpg.Connection, demo: DemoInfo) -> Counter:
    till, _ = await device(conn, "Till 1")
    cashier = await conn.fetchval("SELECT id FROM staff WHERE code = 'C001'")
    caller = Caller(staff_id=cashier, store_id=demo.store_id, role="cashier", device_id=till.device_id)
    await shifts.open_shift(conn, caller, OpenShift(shift_id=new_id(), float_amount=100_000))
    member = await conn.fetchval("SELECT member_id FROM member_card WHERE number = 'QR-SL-0003'")
    tickets = []
    for label, counter, prefix, n in (
        ("Handheld Apple 1", "C-APL", "SH01-C-APL-H1", 2),
        ("Handheld Huawei 1", "C-HUA", "SH01-C-HUA-H1", 1),
    ):
        handheld, _ = await device(conn, label)
        cat = await catalog(conn, counter)
        for seq in range(1, n + 1):
            d = draft(cat, member_id=member, device_id=handheld.device_id, number=f"{prefix}-KILL{seq:02d}")
            (result,), _ = await apply_commands(conn, handheld, [issue(d, seq)])
            assert result.status == "applied", result.error
            assert result.ticket is not None
            tickets.append(result.ticket)
    headers = bearer(await token_for(conn, "C001", SECRET, device_id=till.device_id))
    return Counter(demo.store_id, headers, member, [t.id for t in tickets], sum(t.total for t in tickets))


@contextlib.asynccontextmanager
async def server_for(db_dsn: str, **env: str) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(db_dsn, env=env)
    await server.start()
    try:
        yield server
    finally:
        server.stop()


async def until(conn: asyncpg.Connection, sql: str, *args: Any, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not await conn.fetchval(sql, *args):
            await asyncio.sleep(0.01)


async def post(server: ServerProcess, req: CheckoutRequest, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base, timeout=20) as http:
        return await http.post("/checkouts", content=msgspec.json.encode(req), headers=headers)


async def points(conn: asyncpg.Connection, member_id: uuid.UUID) -> int:
    return int(
        await conn.fetchval(
            "SELECT coalesce(sum(balance), 0) FROM ledger_account WHERE member_id = $1 AND kind = 'points'", member_id
        )
    )


async def nothing_settled(conn: asyncpg.Connection, shop: Counter, req: CheckoutRequest) -> None:
    """What a killed attempt leaves: no checkout, every ticket still open, no earning."""
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", req.id) == 0
    states = await conn.fetch("SELECT state FROM ticket WHERE id = ANY($1)", shop.ticket_ids)
    assert [r["state"] for r in states] == ["issued"] * 3
    assert await conn.fetchval("SELECT count(*) FROM earned_purchase WHERE reference = $1", f"checkout:{req.id}") == 0


async def retry_settles_once(
    conn: asyncpg.Connection, server: ServerProcess, shop: Counter, req: CheckoutRequest, points_before: int
) -> None:
    """The till sends the same checkout again after the restart: one settlement, one charge, and a
    further retry is a replay of the stored result."""
    r = await post(server, req, shop.headers)
    assert r.status_code == 200, r.text
    result = msgspec.json.decode(r.content, type=CheckoutResult)
    assert not result.replayed
    assert result.change == CASH - CASH_APPLIED
    assert result.points_earned > 0
    again = await post(server, req, shop.headers)
    assert again.status_code == 200, again.text
    replay = msgspec.json.decode(again.content, type=CheckoutResult)
    assert replay.replayed
    assert replay.receipt_no == result.receipt_no

    card = str(req.tenders[0].id)
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1 AND state = 'settled'", req.id) == 1
    assert await conn.fetchval("SELECT count(*) FROM checkout_ticket WHERE checkout_id = $1", req.id) == 3
    paid = await conn.fetch("SELECT state, checkout_id FROM ticket WHERE id = ANY($1)", shop.ticket_ids)
    assert [(r["state"], r["checkout_id"]) for r in paid] == [("paid", req.id)] * 3
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM event_log WHERE kind = 'ticket_paid' AND ticket_id = ANY($1)", shop.ticket_ids
        )
        == 3
    )
    positions = sorted(r["position"] for r in await conn.fetch(POSITIONS, shop.store_id))
    assert positions == list(range(1, len(positions) + 1))
    assert await conn.fetchval(HEAD, shop.store_id) == len(positions)
    # the acquirer: one charge, never a second one, nothing given back
    assert await conn.fetchval("SELECT count(*) FROM sim_acquirer_charge WHERE idempotency_key = $1", card) == 1
    assert (
        await conn.fetchval("SELECT count(*) FROM sim_acquirer_call WHERE idempotency_key = $1 AND op = 'charge'", card)
        == 1
    )
    assert await conn.fetchval("SELECT count(*) FROM sim_acquirer_refund WHERE charge_key = $1", card) == 0
    assert await conn.fetchval("SELECT status FROM payment WHERE id = $1", req.tenders[0].id) == "approved"
    assert await conn.fetchval("SELECT count(*) FROM tender WHERE checkout_id = $1", req.id) == 2
    # the member earned once, the drawer saw the sale once
    assert await conn.fetchval("SELECT count(*) FROM earned_purchase WHERE reference = $1", f"checkout:{req.id}") == 1
    assert await points(conn, shop.member_id) == points_before + result.points_earned
    moves = await conn.fetch(
        "SELECT kind, tender, amount FROM shift_movement WHERE reference LIKE $1 ORDER BY kind, tender",
        f"checkout:{req.id}/%",
    )
    assert [(m["kind"], m["tender"], m["amount"]) for m in moves] == [
        ("change", "cash", -(CASH - CASH_APPLIED)),  # out of the drawer
        ("sale", "card", shop.total - CASH_APPLIED),
        ("sale", "cash", CASH),
    ]
    report = await check_invariants(conn)
    assert report.ok, report.problems


async def test_killed_while_the_card_is_charged_the_retry_settles_once_and_charges_once(
    conn: asyncpg.Connection, db_dsn: str, demo: DemoInfo
) -> None:
    shop = await till_with_tickets(conn, demo)
    points_before = await points(conn, shop.member_id)
    req = shop.checkout(CHARGED_ANSWER_LOST)
    card = str(req.tenders[0].id)
    async with server_for(db_dsn, FT_SIM_HANG_S="60") as server:
        attempt = asyncio.create_task(post(server, req, shop.headers))
        # the acquirer has charged the card and the server is waiting for an answer that never comes
        await until(conn, "SELECT count(*) FROM sim_acquirer_charge WHERE idempotency_key = $1", card)
        server.kill()
        with pytest.raises(httpx.HTTPError):
            await attempt
        assert await conn.fetchval("SELECT status FROM payment WHERE id = $1", req.tenders[0].id) == "pending"
        await nothing_settled(conn, shop, req)

        await server.start()
        await retry_settles_once(conn, server, shop, req, points_before)


async def test_killed_inside_the_settling_transaction_the_retry_settles_once_and_charges_once(
    conn: asyncpg.Connection, db_dsn: str, demo: DemoInfo
) -> None:
    shop = await till_with_tickets(conn, demo)
    points_before = await points(conn, shop.member_id)
    req = shop.checkout(APPROVE)
    blocker = await asyncpg.connect(db_dsn)
    try:
        async with server_for(db_dsn) as server:
            held = blocker.transaction()
            await held.start()
            await events.lock_store(blocker, shop.store_id)  # the settling transaction will wait here
            attempt = asyncio.create_task(post(server, req, shop.headers))
            await until(
                conn,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> $1",
                blocker.get_server_pid(),
            )
            # the card is charged and approved; the settling transaction is open, waiting for the lock
            assert await conn.fetchval("SELECT status FROM payment WHERE id = $1", req.tenders[0].id) == "approved"
            server.kill()
            with pytest.raises(httpx.HTTPError):
                await attempt
            await held.rollback()  # the dead server's transaction gets the lock, finds its client gone, rolls back
            await nothing_settled(conn, shop, req)

            await server.start()
            await retry_settles_once(conn, server, shop, req, points_before)
    finally:
        await blocker.close()
