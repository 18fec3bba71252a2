"""Offline balances against the real server: the till reserves part of a member's stored value online,
the network drops, a ticket scanned from its QR is paid with that allowance and cash, and on reconnect
the server captures it from the allowance exactly once (a resend only replays); the till's local copy
follows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from cashier_app.presenters.allowances import ReserveAllowance
from cashier_app.presenters.basket import Basket
from cashier_app.presenters.shift import ShiftPresenter
from cashier_app.presenters.tenders import Payment
from cashier_app.services import default_till
from protocol.members import MemberCodes
from server.demo import DemoInfo
from server.ledger import allowance
from tests.cashier.live_helpers import IP16, ZHAO, Counter, signed_in_till, until
from tests.cashier.test_against_server import _waiting_request
from tests.live_server import LiveServer

AVAILABLE = "SELECT balance FROM ledger_account WHERE member_id = $1 AND kind = 'stored_value' AND NOT held"


async def test_stored_value_reserved_online_pays_offline_and_is_captured_once(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    till, _ = await signed_in_till(tmp_path / "till", live, demo)
    s = till.services
    me = s.enroller.enrolled()
    assert me is not None
    assert s.allowances is not None
    rules = default_till(me)
    basket = Basket(s.reader, s.customers, s.connection)
    payment = Payment(basket, s.terminal, s.checkouts, s.connection, rules, s.allowances)
    reserve = ReserveAllowance(basket, s.allowances, s.connection, rules)
    shift = ShiftPresenter(s.shifts, s.connection)
    assert await shift.open("0")
    payment.shift_id = shift.shift.shift_id if shift.shift else None
    apple_id = apple.hh.device.identity.device_id  # type: ignore[union-attr]
    await until(lambda: till.sync.keys(apple_id) is not None, what="the till holds the handheld's key")
    ticket_id, qr = await apple.issue(IP16, ZHAO)  # ¥5,999.00 for 赵敏, who has ¥1,000.00 of stored value

    # Online, the member in the basket: reserve ¥300.00 of her stored value for this till.
    assert await basket.scan(qr), basket.message
    assert basket.member is not None
    member_id = basket.member.member_id
    before = await conn.fetchval(AVAILABLE, member_id)
    assert await reserve.reserve("300"), reserve.message
    [held] = s.allowances.held(member_id)
    assert (held.kind, held.amount, held.left) == ("stored_value", 30_000, 30_000)
    hold = await conn.fetchrow(
        "SELECT device_id, amount, captured, state FROM ledger_hold WHERE id = $1", held.allowance_id
    )
    assert (hold["device_id"], hold["amount"], hold["captured"], hold["state"]) == (me.device_id, 30_000, 0, "open")
    assert await conn.fetchval(AVAILABLE, member_id) == before - 30_000
    payment.next_customer()  # the customer steps aside; the network drops

    await asyncio.to_thread(live.stop)
    await until(lambda: s.connection.state.link == "offline", what="offline shown")
    assert await basket.scan(qr), basket.message  # from the code: verified on the till
    assert payment.unavailable("stored_value") == ""
    assert not payment.add_balance("stored_value", "300.01")
    assert payment.message == "Offline: only ¥300.00 of Stored value is left of this member's allowance."
    assert payment.add_balance("stored_value", "300"), payment.message
    assert payment.unavailable("stored_value") == (
        "Offline: only ¥0.00 of Stored value is left of this member's allowance."
    )
    assert payment.add_cash("5700"), payment.message
    settled = await payment.settle()
    assert settled is not None, payment.message
    assert settled.queued
    assert settled.change == 100
    assert [a.left for a in s.allowances.held(member_id)] == [0], "debited with the queued checkout"

    await asyncio.to_thread(live.start)
    await until(lambda: s.connection.state.online and s.connection.state.outbox == 0, what="outbox sent")
    row = await conn.fetchrow("SELECT state, checkout_id FROM ticket WHERE id = $1", ticket_id)
    assert (row["state"], row["checkout_id"]) == ("paid", settled.checkout_id)
    tenders = await conn.fetch(
        "SELECT kind, applied FROM tender WHERE checkout_id = $1 ORDER BY seq", settled.checkout_id
    )
    assert [(t["kind"], t["applied"]) for t in tenders] == [("stored_value", 30_000), ("cash", 599_900 - 30_000)]
    assert await conn.fetchval("SELECT captured FROM ledger_hold WHERE id = $1", held.allowance_id) == 30_000
    assert await conn.fetchval(AVAILABLE, member_id) == before - 30_000, "one spend, from the allowance only"

    # Exactly once: sending the waiting request again only replays the stored result.
    replayed = await till.checkouts._replay(*_waiting_request(till, settled.checkout_id))
    assert replayed.replayed
    assert await conn.fetchval("SELECT captured FROM ledger_hold WHERE id = $1", held.allowance_id) == 30_000
    spends = "SELECT count(*) FROM ledger_movement WHERE kind = 'allowance_spend' AND reference = $1"
    assert await conn.fetchval(spends, f"checkout:{settled.checkout_id}") == 1
    assert await conn.fetchval(AVAILABLE, member_id) == before - 30_000

    # The till's copy follows the server: the allowance is used up (nothing left to spend offline).
    assert till.allowances is not None
    await till.allowances.refresh()
    assert [a.left for a in s.allowances.held(member_id)] == [0]
    assert till.store.db.execute("SELECT count(*) FROM till_allowance_spend").fetchone()[0] == 0
    await s.stop_sync()
    till.close()
    apple.close()


async def test_a_refused_offline_checkout_releases_its_allowance_spend_on_the_till(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    till, _ = await signed_in_till(tmp_path / "till", live, demo)
    s = till.services
    me = s.enroller.enrolled()
    assert me is not None
    assert s.allowances is not None
    rules = default_till(me)
    basket = Basket(s.reader, s.customers, s.connection)
    payment = Payment(basket, s.terminal, s.checkouts, s.connection, rules, s.allowances)
    reserve = ReserveAllowance(basket, s.allowances, s.connection, rules)
    shift = ShiftPresenter(s.shifts, s.connection)
    assert await shift.open("0")
    payment.shift_id = shift.shift.shift_id if shift.shift else None
    apple_id = apple.hh.device.identity.device_id  # type: ignore[union-attr]
    await until(lambda: till.sync.keys(apple_id) is not None, what="the till holds the handheld's key")
    _, qr = await apple.issue(IP16, ZHAO)
    assert await basket.scan(qr), basket.message
    assert basket.member is not None
    member_id = basket.member.member_id
    before = await conn.fetchval(AVAILABLE, member_id)
    assert await reserve.reserve("200"), reserve.message
    [held] = s.allowances.held(member_id)
    payment.next_customer()

    await asyncio.to_thread(live.stop)
    await until(lambda: s.connection.state.link == "offline", what="offline shown")
    assert await basket.scan(qr), basket.message
    assert payment.add_balance("stored_value"), payment.message
    assert payment.add_cash(""), payment.message
    settled = await payment.settle()
    assert settled is not None, payment.message
    # Meanwhile the allowance is given back on the server (the member's money returns to her).
    async with conn.transaction():
        await allowance.give_back(conn, allowance_id=held.allowance_id, device_id=me.device_id)

    await asyncio.to_thread(live.start)
    await until(lambda: s.connection.state.online and s.connection.state.outbox == 0, what="outbox tried")
    [letter] = s.connection.state.dead_letters
    assert letter.code == MemberCodes.HOLD_CLOSED, letter
    assert await conn.fetchval("SELECT captured FROM ledger_hold WHERE id = $1", held.allowance_id) == 0
    assert await conn.fetchval(AVAILABLE, member_id) == before, "nothing was spent"
    counted = "SELECT count(*) FROM till_allowance_spend WHERE state IN ('waiting', 'applied')"
    assert till.store.db.execute(counted).fetchone()[0] == 0, "released on the till: it no longer counts"
    await s.stop_sync()
    till.close()
    apple.close()
