"""Offline tenders against the real server: a card charged on the standalone card terminal waits in
the outbox with cash and applies exactly once on reconnect (never through the payment provider), and
its refund is given back on that terminal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from cashier_app.presenters.refunds import RefundPresenter
from server.demo import DemoInfo
from tests.cashier.live_helpers import IP16, Counter, presenters, signed_in_till, until
from tests.cashier.test_against_server import _waiting_request
from tests.live_server import LiveServer


async def test_a_card_on_the_standalone_terminal_settles_offline_once_and_refunds_on_the_terminal(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    till, _ = await signed_in_till(tmp_path / "till", live, demo)
    s = till.services
    me = s.enroller.enrolled()
    assert me is not None
    basket, payment, shift = presenters(till)
    assert await shift.open("0")
    payment.shift_id = shift.shift.shift_id if shift.shift else None
    apple_id = apple.hh.device.identity.device_id  # type: ignore[union-attr]
    await until(lambda: till.sync.keys(apple_id) is not None, what="the till holds the handheld's key")
    ticket_id, qr = await apple.issue(IP16)  # a walk-in; the handheld never sends it

    await asyncio.to_thread(live.stop)
    await until(lambda: s.connection.state.link == "offline", what="offline shown")
    assert await basket.scan(qr), basket.message
    assert payment.unavailable("card") == ""
    assert await payment.take_card("card", "778899 4242", "5000"), payment.message
    assert payment.add_cash("1000"), payment.message
    settled = await payment.settle()
    assert settled is not None, payment.message
    assert settled.queued
    assert settled.change == 100
    assert s.connection.state.outbox == 1

    await asyncio.to_thread(live.start)
    await until(lambda: s.connection.state.online and s.connection.state.outbox == 0, what="outbox sent")
    row = await conn.fetchrow("SELECT state, checkout_id FROM ticket WHERE id = $1", ticket_id)
    assert (row["state"], row["checkout_id"]) == ("paid", settled.checkout_id)
    tenders = await conn.fetch(
        "SELECT id, kind, applied, payment_ref, masked FROM tender WHERE checkout_id = $1 ORDER BY seq",
        settled.checkout_id,
    )
    assert [(t["kind"], t["applied"], t["payment_ref"], t["masked"]) for t in tenders] == [
        ("card", 500_000, "terminal:778899", "**** 4242"),
        ("cash", 99_900, None, None),
    ]
    card_id = tenders[0]["id"]
    assert await conn.fetchval("SELECT count(*) FROM payment WHERE id = $1", card_id) == 0, "no provider charge"
    assert shift.shift is not None
    sales = await conn.fetch(
        "SELECT tender, amount FROM shift_movement WHERE shift_id = $1 AND kind = 'sale' ORDER BY tender",
        shift.shift.shift_id,
    )
    assert [(r["tender"], r["amount"]) for r in sales] == [("card", 500_000), ("cash", 100_000)]

    # Exactly once: sending the waiting request again only replays the stored result.
    assert await till.checkouts.flush() == 0
    replayed = await till.checkouts._replay(*_waiting_request(till, settled.checkout_id))
    assert replayed.replayed
    assert await conn.fetchval("SELECT count(*) FROM checkout WHERE id = $1", settled.checkout_id) == 1
    assert await conn.fetchval("SELECT count(*) FROM tender WHERE checkout_id = $1", settled.checkout_id) == 2

    # The refund's card share is given back on the card terminal, not through the provider.
    refunds = RefundPresenter(s.refunds, s.auth, s.connection, lambda: s.till(me))
    assert await refunds.find(settled.receipt_qr), refunds.message
    refunds.toggle(0)
    done = await refunds.refund("faulty", "V001", "4444")
    assert done is not None, refunds.message
    assert done.on_terminal == (("778899", 500_000),)
    assert "Give ¥5,000.00 back to the card on the card terminal (approval 778899)." in refunds.message
    assert await conn.fetchval("SELECT count(*) FROM payment_refund WHERE payment_id = $1", card_id) == 0
    await s.stop_sync()
    till.close()
    apple.close()
