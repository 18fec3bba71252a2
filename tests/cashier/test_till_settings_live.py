"""The till applies the store's settings as the server gives them (points value, refund limit,
currency), reads them again on reconnect, and keeps them for offline work and restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from cashier_app.presenters.basket import Basket
from cashier_app.presenters.refunds import RefundPresenter
from cashier_app.presenters.tenders import Payment
from cashier_app.wiring import build
from server.checkout.config import CheckoutConfig
from server.demo import DemoInfo
from tests.cashier.live_helpers import ZHAO, Counter, presenters, signed_in_till, until
from tests.live_server import LiveServer

FREEBUDS = "6901234500066"  # Huawei FreeBuds 5, promotion 899.00


async def test_a_changed_points_value_and_refund_limit_reach_the_till_and_hold_offline(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    till, _ = await signed_in_till(tmp_path / "till", live, demo)
    s = till.services
    me = s.enroller.enrolled()
    assert me is not None
    assert till.settings is not None
    await until(lambda: till.settings is not None and till.settings.current is not None, what="settings read")
    first = till.settings.current
    assert first is not None
    assert (first.points_per_yuan, first.refund_approval_limit, first.currency) == (100, 50_000, "CNY")
    assert first.store_id == demo.store_id

    # The operator changes the rules: 50 points pay a yuan, refunds up to 1,000.00 need no supervisor.
    await asyncio.to_thread(live.stop)
    await until(lambda: s.connection.state.link == "offline", what="offline shown")
    live.state = {"checkout_config": CheckoutConfig(points_per_yuan=50, refund_approval_limit=100_000)}
    await asyncio.to_thread(live.start)
    await until(
        lambda: (
            till.settings is not None
            and till.settings.current is not None
            and till.settings.current.points_per_yuan == 50
        ),
        what="new settings read on reconnect",
    )

    basket, _, shift = presenters(till)
    payment = Payment(basket, s.terminal, s.checkouts, s.connection, lambda: s.till(me))
    assert await shift.open("100")
    payment.shift_id = shift.shift.shift_id if shift.shift else None
    huawei = await Counter.enrolled(tmp_path / "huawei", live, demo, "Handheld Huawei 1")
    _, qr = await huawei.issue(FREEBUDS, ZHAO)
    assert await basket.scan(qr), basket.message
    member = basket.member
    assert member is not None
    assert member.points > 0
    assert member.points_value == member.points * 2, "a point is worth two fen at 50 points per yuan"

    # Points pay in steps of 0.02 now; one fen cannot be paid in whole points.
    assert payment.points_step == 2
    assert not payment.add_balance("points", "0.01")
    assert "0.02" in payment.message
    assert payment.add_balance("points", "0.50"), payment.message
    assert payment.add_cash(""), payment.message
    settled = await payment.settle()
    assert settled is not None, payment.message
    spent = await conn.fetchval(
        "SELECT captured FROM ledger_hold WHERE reference = $1 AND kind = 'points'", f"checkout:{settled.checkout_id}"
    )
    assert spent == 25, "0.50 paid with 25 points"

    # 899.00 is under the new limit: no supervisor needed (the old 500.00 limit would ask for one).
    refunds = RefundPresenter(s.refunds, s.auth, s.connection, lambda: s.till(me))
    assert await refunds.find(settled.receipt_qr), refunds.message
    refunds.toggle(0)
    assert refunds.amount == 89_900
    assert not refunds.needs_approval
    done = await refunds.refund("wrong colour")
    assert done is not None, refunds.message

    # Offline and restarted, the till still applies the settings it last read.
    await s.stop_sync()
    till.close()
    await asyncio.to_thread(live.stop)
    again = build(tmp_path / "till")
    try:
        assert again.settings is not None
        assert again.settings.current is not None
        rules = again.services.till(me)
        assert (rules.points_per_yuan, rules.refund_approval_limit) == (50, 100_000)
        assert RefundPresenter(again.services.refunds, again.services.auth, again.services.connection, rules)
        offline_payment = Payment(
            Basket(again.services.reader, again.services.customers, again.services.connection),
            again.services.terminal,
            again.services.checkouts,
            again.services.connection,
            lambda: again.services.till(me),
        )
        assert offline_payment.points_step == 2
    finally:
        again.close()
        huawei.close()
