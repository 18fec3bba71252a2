"""One-stop card payment from the handheld's real wiring against the real server and its acquirer
simulator: declined with the reason, an unknown outcome checked again with the same ids and charged
once, an approved wallet code, and the goods released."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from handheld_app.presenters.card_payment import CardPayment
from handheld_app.presenters.ports import LocalTicket
from handheld_app.presenters.ticket_builder import TicketBuilder
from handheld_app.services import device_context
from handheld_app.wiring import Handheld
from server.demo import DemoInfo
from server.settings import Settings
from tests.handheld.test_against_server import IP16, await_state, enrolled, until
from tests.live_server import LiveServer
from tests.server.payments.conftest import FAST

DECLINED = "4000000000009995"  # insufficient_funds
LOST_ANSWER = "4000000000000119"  # charged, but the answer never arrives
WALLET = "280000000000000000"  # approved


@pytest.fixture
async def paying(db_dsn: str, demo: DemoInfo, settings: Settings) -> AsyncIterator[LiveServer]:
    """The real server with the acquirer's timings shortened (a lost answer is "unknown" after 0.3 s)."""
    server = LiveServer(db_dsn, settings, state={"payments_config": FAST})
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def sell_one(hh: Handheld, builder: TicketBuilder) -> LocalTicket:
    item = hh.services.catalog.by_code(IP16)
    assert item is not None
    builder.add(item)
    ticket = builder.issue()
    assert ticket is not None
    await until(lambda: await_state(hh, ticket.id, "issued"), what="ticket reached the server")
    return ticket


async def test_declined_then_unknown_checked_again_charges_once_and_a_wallet_pays(
    paying: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    hh = await enrolled(tmp_path / "hh", paying, demo)
    s = hh.services
    assert s.one_stop is not None
    session = await s.auth.sign_in("S001", "1111")
    await s.start_sync(session)
    await until(lambda: hh.sync.catalog.loads >= 1 and s.connection.state.online, what="online with the catalog")
    me = s.enroller.enrolled()
    assert me is not None
    builder = TicketBuilder(s.book, s.auth, device_context(me))
    builder.staff = session
    pay = CardPayment(s.one_stop, s.book, s.connection)

    first = await sell_one(hh, builder)
    assert first.number == "SH01-C-APL-H1-000001"  # store, counter and device codes from enrollment
    pay.open(first.id)
    assert pay.can_charge
    assert pay.amount == "To pay ¥5,999.00"

    outcome = await pay.charge(DECLINED)
    assert outcome is not None
    assert (outcome.state, outcome.reason) == ("declined", "insufficient_funds")
    assert pay.message == "Declined: insufficient funds. Ask for another card or payment code."
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", first.id) == "issued"

    outcome = await pay.charge(LOST_ANSWER)
    assert outcome is not None
    assert outcome.state == "unknown"
    attempt = pay.attempt
    assert attempt is not None
    assert hh.services.one_stop.pending(first.id) == attempt  # kept on disk until the outcome is known
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", first.id) == "issued"

    outcome = await pay.check_again()
    assert outcome is not None
    assert outcome.state == "paid", outcome
    assert pay.message.startswith("Paid ¥5,999.00 · ")
    assert pay.can_release
    key = str(attempt.tender_id)
    assert (
        await conn.fetchval("SELECT count(*) FROM sim_acquirer_call WHERE idempotency_key = $1 AND op = 'charge'", key)
        == 1
    )
    assert await conn.fetchval("SELECT count(*) FROM sim_acquirer_charge WHERE last4 = '0119'") == 1
    checkout = await conn.fetchrow(
        "SELECT c.id, c.mode, c.total FROM checkout c JOIN checkout_ticket t ON t.checkout_id = c.id"
        " WHERE t.ticket_id = $1",
        first.id,
    )
    assert (checkout["id"], checkout["mode"], checkout["total"]) == (attempt.checkout_id, "one_stop", 599900)
    assert s.one_stop.pending(first.id) is None

    # The paid event comes back live; releasing the goods reaches the server.
    await until(lambda: await_state(hh, first.id, "paid"), what="paid arrives")
    assert pay.release()
    await until(lambda: await_state(hh, first.id, "released"), what="release acknowledged")
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", first.id) == "released"

    # A wallet code pays at once.
    second = await sell_one(hh, builder)
    pay.open(second.id)
    outcome = await pay.charge(WALLET)
    assert outcome is not None
    assert outcome.state == "paid"
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", second.id) == "paid"
    assert s.connection.state.dead_letters == ()
    await s.stop_sync()
    hh.close()
