"""Earning by the managers' rules, tiers, campaign e-coin, refunds, 补积分 and e-coin expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from protocol.ids import new_id
from protocol.members import CampaignNew, EarningRuleNew, MemberCodes, PurchaseLine, RateChange, ReturnedLine, TierDef
from server.errors import AppError
from server.ledger import jobs
from server.ledger import service as ledger
from server.loyalty import rules
from server.loyalty import service as loyalty

NOW = datetime.now(UTC)


def line(no: int, amount: int, category: str = "phones", promo: bool = False) -> PurchaseLine:
    return PurchaseLine(line_no=no, sku=f"SKU-{no}", category=category, amount=amount, promo=promo)


async def earn(conn, store, member, lines, reference=None, movement_id=None):
    async with conn.transaction():
        return await loyalty.post_earning(
            conn, movement_id=movement_id or new_id(), store_id=store, member_id=member.id, lines=lines,
            reference=reference or f"CO-{new_id()}",
        )  # fmt: skip


@pytest.fixture
async def plain(conn):
    """No tiers and no campaigns: earning is the rules alone."""
    await conn.execute("UPDATE member SET tier_code = NULL")
    await conn.execute("DELETE FROM member_tier")
    await conn.execute("UPDATE loyalty_campaign SET active = false")


async def test_most_specific_rule_wins_and_promotion_lines_earn_their_rate(conn, store, member, plain):
    staff = await conn.fetchval("SELECT id FROM staff WHERE code = 'M001'")
    await rules.add_rule(conn, store, EarningRuleNew(store_id=store, rate=300, promo_rate=30), staff_id=staff,
                         chain_wide=False)  # fmt: skip
    tv = await rules.add_rule(conn, store, EarningRuleNew(store_id=store, category="tv", rate=500, promo_rate=0),
                              staff_id=staff, chain_wide=False)  # fmt: skip
    result = await earn(conn, store, member, [line(1, 10_000), line(2, 10_000, promo=True), line(3, 10_000, "tv")])
    # 100 yuan each: store rule 3/yuan -> 300; promo 0.3/yuan -> 30; tv 5/yuan -> 500
    assert result.points == 830
    await rules.change_rule(conn, store, tv.id, RateChange(rate=100, promo_rate=0), staff_id=staff, chain_wide=False)
    assert (await earn(conn, store, member, [line(1, 10_000, "tv")])).points == 100
    await rules.retire_rule(conn, store, tv.id, staff_id=staff, chain_wide=False)
    assert (await earn(conn, store, member, [line(1, 10_000, "tv")])).points == 300
    with pytest.raises(AppError) as err:
        await rules.add_rule(conn, store, EarningRuleNew(store_id=store, rate=1, promo_rate=1), staff_id=staff,
                             chain_wide=False)  # fmt: skip
    assert err.value.code == MemberCodes.RULE_EXISTS


async def test_managers_cannot_touch_chain_rules_or_other_stores(conn, store, other_store):
    staff = await conn.fetchval("SELECT id FROM staff WHERE code = 'M001'")
    with pytest.raises(AppError) as err:
        await rules.add_rule(conn, store, EarningRuleNew(rate=1, promo_rate=1), staff_id=staff, chain_wide=False)
    assert err.value.status == 403
    with pytest.raises(AppError) as err:
        await rules.add_rule(conn, store, EarningRuleNew(store_id=other_store, rate=1, promo_rate=1), staff_id=staff,
                             chain_wide=False)  # fmt: skip
    assert err.value.status == 404
    chain_rule = (await rules.list_rules(conn, store))[0]
    assert chain_rule.store_id is None
    with pytest.raises(AppError) as err:
        await rules.change_rule(conn, store, chain_rule.id, RateChange(rate=1, promo_rate=1), staff_id=staff,
                                chain_wide=False)  # fmt: skip
    assert err.value.status == 403


async def test_tier_follows_trailing_spend_and_multiplies_points(conn, store, member, plain):
    staff = await conn.fetchval("SELECT id FROM staff WHERE code = 'A001'")
    await rules.put_tier(conn, TierDef(code="gold", name="金卡", min_spend=500_000, multiplier=200), store_id=store,
                         staff_id=staff)  # fmt: skip
    first = await earn(conn, store, member, [line(1, 600_000)], reference="A")
    assert (first.points, first.tier) == (6_000, "gold")  # earned at the old tier, then promoted
    assert (await earn(conn, store, member, [line(1, 10_000)])).points == 200  # x2
    # A year later the spend has left the window: the nightly recompute takes the tier away.
    assert await loyalty.recompute_all_tiers(conn, now=NOW + timedelta(days=400)) == 1
    assert await conn.fetchval("SELECT tier_code FROM member WHERE id = $1", member.id) is None
    await loyalty.recompute_all_tiers(conn)
    async with conn.transaction():
        await loyalty.reverse_for_refund(conn, movement_id=new_id(), store_id=store, original_reference="A",
                                         lines=[ReturnedLine(line_no=1, amount=600_000)])  # fmt: skip
    assert await conn.fetchval("SELECT tier_code FROM member WHERE id = $1", member.id) is None


async def test_campaign_bonus_with_repeat_dates_and_store_limits(conn, store, other_store, member, plain):
    staff = await conn.fetchval("SELECT id FROM staff WHERE code = 'M001'")
    camp = CampaignNew(name="满100送10", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=1),
                       spend_threshold=10_000, bonus=1_000, repeat=True, valid_days=10, store_ids=[store],
                       ecoin_categories=["tv"])  # fmt: skip
    await rules.add_campaign(conn, store, camp, staff_id=staff, chain_wide=False)
    result = await earn(conn, store, member, [line(1, 35_000)])
    assert result.e_coin == 3_000
    assert (await ledger.balances(conn, member.id, store)).e_coin == 3_000
    # category-limited e-coin can only be spent on those categories
    soon = datetime.now(UTC) + timedelta(minutes=5)
    with pytest.raises(AppError) as err:
        await ledger.hold(conn, hold_id=new_id(), store_id=store, member_id=member.id, account="e_coin", amount=100,
                          expires_at=soon, categories=["phones"])  # fmt: skip
    assert err.value.code == MemberCodes.INSUFFICIENT_BALANCE
    async with conn.transaction():
        h = await ledger.hold(conn, hold_id=new_id(), store_id=store, member_id=member.id, account="e_coin",
                              amount=2_500, expires_at=soon, categories=["tv"])  # fmt: skip
        await ledger.capture(conn, h.hold_id, reference="CO-tv", amount=2_000)
    assert (await ledger.balances(conn, member.id, store)).e_coin == 1_000
    assert (await jobs.check_invariants(conn)).ok
    # not in another store's campaign list, nor earned there
    assert await rules.list_campaigns(conn, other_store, chain_wide=False) == []


async def test_refund_takes_points_back_in_proportion_and_reports_what_was_spent(conn, store, member, plain):
    await earn(conn, store, member, [line(1, 30_000), line(2, 10_000)], reference="CO-9")  # 300 + 100 points
    async with conn.transaction():
        r1 = await loyalty.reverse_for_refund(conn, movement_id=new_id(), store_id=store, original_reference="CO-9",
                                              lines=[ReturnedLine(line_no=1, amount=10_000)])  # fmt: skip
    assert (r1.points, r1.shortfall) == (100, 0)
    # the member spends most of the points, then returns the rest of line 1
    async with conn.transaction():
        h = await ledger.hold(conn, hold_id=new_id(), store_id=store, member_id=member.id, account="points",
                              amount=250, expires_at=datetime.now(UTC) + timedelta(minutes=5))  # fmt: skip
        await ledger.capture(conn, h.hold_id, reference="CO-10")
    async with conn.transaction():
        r2 = await loyalty.reverse_for_refund(conn, movement_id=new_id(), store_id=store, original_reference="CO-9",
                                              lines=[ReturnedLine(line_no=1, amount=20_000)])  # fmt: skip
    assert (r2.points, r2.shortfall) == (50, 150)
    assert (await ledger.balances(conn, member.id, store)).points == 0
    with pytest.raises(AppError) as err:
        await loyalty.reverse_for_refund(conn, movement_id=new_id(), store_id=store, original_reference="CO-9",
                                         lines=[ReturnedLine(line_no=1, amount=1)])  # fmt: skip
    assert err.value.code == MemberCodes.REFUND_EXCEEDS_PURCHASE
    assert (await jobs.check_invariants(conn)).ok


async def test_a_purchase_earns_once_and_a_repeated_movement_returns_the_first_result(conn, store, member, plain):
    mid = new_id()
    first = await earn(conn, store, member, [line(1, 10_000)], reference="CO-1", movement_id=mid)
    assert await earn(conn, store, member, [line(1, 10_000)], reference="CO-1", movement_id=mid) == first
    with pytest.raises(AppError) as err:
        await earn(conn, store, member, [line(1, 10_000)], reference="CO-1")
    assert err.value.code == MemberCodes.PURCHASE_ALREADY_EARNED
    with pytest.raises(AppError) as err:
        await earn(conn, store, member, [line(1, 20_000)], reference="CO-1", movement_id=mid)
    assert err.value.code == MemberCodes.MOVEMENT_ID_REUSED
    assert err.value.details["field"] == "lines[0].amount"


async def test_attach_purchase_within_the_window_once_only(conn, store, member, plain):
    staff = await conn.fetchval("SELECT id FROM staff WHERE code = 'M001'")
    lines = [line(1, 5_000), line(2, 5_000)]

    async def attach(receipt: str, days_ago: float, amount: int = 10_000):
        async with conn.transaction():
            return await loyalty.attach_purchase(
                conn, movement_id=new_id(), store_id=store, member_id=member.id, receipt_no=receipt, amount=amount,
                lines=lines, purchased_at=NOW - timedelta(days=days_ago),
            )  # fmt: skip

    assert (await attach("RCPT-1", 2)).points == 100
    with pytest.raises(AppError) as err:
        await attach("RCPT-1", 2)
    assert err.value.code == MemberCodes.PURCHASE_ALREADY_EARNED
    with pytest.raises(AppError) as err:
        await attach("RCPT-2", 8)
    assert err.value.code == MemberCodes.ATTACH_WINDOW_PASSED
    with pytest.raises(AppError) as err:
        await attach("RCPT-3", 1, amount=9_999)
    assert err.value.code == MemberCodes.LINES_DO_NOT_ADD_UP
    await rules.put_settings(conn, store, rules.LoyaltySettings(attach_days=30), staff_id=staff)
    assert (await attach("RCPT-2", 8)).points == 100


async def test_ecoin_expiry_twice_changes_nothing_more(conn, store, member, plain):
    staff = await conn.fetchval("SELECT id FROM staff WHERE code = 'M001'")
    await rules.add_campaign(conn, store, CampaignNew(
        name="short", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=1), spend_threshold=1_000,
        bonus=700, valid_days=1, store_ids=[store]), staff_id=staff, chain_wide=False)  # fmt: skip
    await earn(conn, store, member, [line(1, 1_000)])
    later = NOW + timedelta(days=2)
    async with conn.transaction():
        first = await jobs.expire_ecoin(conn, now=later)
    entries = await conn.fetchval("SELECT count(*) FROM ledger_entry")
    async with conn.transaction():
        second = await jobs.expire_ecoin(conn, now=later)
    assert first.amount >= 700
    assert first.lots_expired >= 1
    assert (second.lots_expired, second.amount) == (0, 0)
    assert await conn.fetchval("SELECT count(*) FROM ledger_entry") == entries
    assert (await ledger.balances(conn, member.id, store)).e_coin == 0
    page = await ledger.statement(conn, member.id, store)
    assert page.entries[0].movement == "expire"
    assert page.entries[0].amount == -700
    assert (await jobs.check_invariants(conn)).ok


async def ecoin_lots(conn, member_id):
    return int(
        await conn.fetchval(
            "SELECT coalesce(sum(l.remaining), 0) FROM ecoin_lot l JOIN ledger_account a ON a.id = l.account_id"
            " WHERE a.member_id = $1",
            member_id,
        )
    )


async def test_refund_takes_campaign_ecoin_back_in_proportion_and_reports_what_was_spent(conn, store, member, plain):
    staff = await conn.fetchval("SELECT id FROM staff WHERE code = 'M001'")
    camp = CampaignNew(name="满100送10", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=1),
                       spend_threshold=10_000, bonus=1_000, repeat=True, valid_days=10, store_ids=[store])  # fmt: skip
    await rules.add_campaign(conn, store, camp, staff_id=staff, chain_wide=False)
    other = await earn(conn, store, member, [line(1, 10_000)], reference="CO-other")  # 1,000 e-coin of another sale
    earned = await earn(conn, store, member, [line(1, 30_000), line(2, 10_000)], reference="CO-E")
    assert (other.e_coin, earned.e_coin) == (1_000, 4_000)

    async def give_back(amount: int, line_no: int = 1):
        async with conn.transaction():
            return await loyalty.reverse_for_refund(conn, movement_id=new_id(), store_id=store,
                                                    original_reference="CO-E",
                                                    lines=[ReturnedLine(line_no=line_no, amount=amount)])  # fmt: skip

    r1 = await give_back(10_000)  # a quarter of the purchase: a quarter of its e-coin
    assert (r1.e_coin, r1.e_coin_shortfall) == (1_000, 0)
    assert (await ledger.balances(conn, member.id, store)).e_coin == 4_000
    # it came off the purchase's own lot, not the other sale's
    own = await conn.fetchval("SELECT remaining FROM ecoin_lot WHERE amount = 4000")
    assert own == 3_000
    # the member spends 3,500 e-coin, then returns the rest of the purchase
    async with conn.transaction():
        h = await ledger.hold(conn, hold_id=new_id(), store_id=store, member_id=member.id, account="e_coin",
                              amount=3_500, expires_at=datetime.now(UTC) + timedelta(minutes=5))  # fmt: skip
        await ledger.capture(conn, h.hold_id, reference="CO-spend")
    r2 = await give_back(20_000)
    r3 = await give_back(10_000, line_no=2)
    assert (r2.e_coin + r3.e_coin, r2.e_coin_shortfall + r3.e_coin_shortfall) == (500, 2_500)
    assert (await ledger.balances(conn, member.id, store)).e_coin == 0  # never below zero
    assert await ecoin_lots(conn, member.id) == 0
    # the purchase's e-coin in total: what came back plus what the member had already spent
    assert r1.e_coin + r2.e_coin + r3.e_coin + r2.e_coin_shortfall + r3.e_coin_shortfall == earned.e_coin
    kinds = await conn.fetch(
        "SELECT a.kind, sum(e.amount) AS total FROM ledger_entry e JOIN ledger_account a ON a.id = e.account_id"
        " JOIN ledger_movement m ON m.id = e.movement_id WHERE m.kind = 'reverse_earn' AND a.member_id = $1"
        " GROUP BY a.kind",
        member.id,
    )
    assert {r["kind"]: r["total"] for r in kinds}["e_coin"] == -1_500
    assert (await jobs.check_invariants(conn)).ok


async def test_a_repeated_refund_movement_takes_the_ecoin_back_once(conn, store, member, plain):
    staff = await conn.fetchval("SELECT id FROM staff WHERE code = 'M001'")
    camp = CampaignNew(name="满200送20", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=1),
                       spend_threshold=20_000, bonus=2_000, store_ids=[store])  # fmt: skip
    await rules.add_campaign(conn, store, camp, staff_id=staff, chain_wide=False)
    await earn(conn, store, member, [line(1, 25_000)], reference="CO-R")
    movement = new_id()
    for _ in range(2):
        async with conn.transaction():
            r = await loyalty.reverse_for_refund(conn, movement_id=movement, store_id=store, original_reference="CO-R",
                                                 lines=[ReturnedLine(line_no=1, amount=25_000)])  # fmt: skip
        assert (r.e_coin, r.e_coin_shortfall) == (2_000, 0)
    assert (await ledger.balances(conn, member.id, store)).e_coin == 0
    assert (await jobs.check_invariants(conn)).ok
