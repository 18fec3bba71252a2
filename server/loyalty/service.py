"""Earning: points for a purchase by the managers' rules and the member's tier, campaign e-coin
bonuses, reversal for refunds, attaching a past purchase (补积分), and tier recomputation.

Every function takes a connection already in a transaction (checkout's own, or the endpoint's).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from protocol.members import EarningResult, MemberCodes, PurchaseLine, RefundResult, ReturnedLine
from server.errors import AppError, Conflict
from server.ledger import repository as ledger_sql
from server.ledger.posting import (
    atomic,
    begin_movement,
    derived_id,
    finish_movement,
    member_account,
    member_for_store,
    post,
    system_account,
)
from server.loyalty import repository as sql

TIER_WINDOW = timedelta(days=365)
DEFAULT_ATTACH_DAYS = 7


def _pick_rule(rules: Sequence[asyncpg.Record], category: str) -> asyncpg.Record | None:
    """The most specific active rule: a store's over a format's over the chain's; a category's over none."""
    best: tuple[int, int, int] | None = None
    chosen = None
    for r in rules:
        if r["category"] is not None and r["category"] != category:
            continue
        score = (r["store_id"] is not None, r["format_id"] is not None, r["category"] is not None)
        key = (int(score[0]), int(score[1]), int(score[2]))
        if best is None or key > best:
            best, chosen = key, r
    return chosen


def points_for(amount: int, rate: int, multiplier: int) -> int:
    """Whole points: ``rate`` points per 100 yuan, times ``multiplier``/100 (rounded down)."""
    return amount * rate * multiplier // 1_000_000


async def _multiplier(conn: asyncpg.Connection, member_id: uuid.UUID) -> int:
    value = await conn.fetchval(sql.TIER_MULTIPLIER, member_id)
    return 100 if value is None else int(value)


async def recompute_tier(conn: asyncpg.Connection, member_id: uuid.UUID, *, now: datetime | None = None) -> str | None:
    """Set the member's tier from trailing 12-month spend; returns the tier code."""
    spend = int(await conn.fetchval(sql.TRAILING_SPEND, member_id, (now or datetime.now(UTC)) - TIER_WINDOW))
    code: str | None = await conn.fetchval(sql.TIER_FOR_SPEND, spend)
    await conn.execute(sql.SET_TIER, member_id, code)
    return code


@atomic
async def recompute_all_tiers(conn: asyncpg.Connection, *, now: datetime | None = None) -> int:
    """Recompute every member with a tier or recent spend (spend falling out of the window, tier
    definitions changed). Returns how many members changed tier."""
    now = now or datetime.now(UTC)
    changed = 0
    for row in await conn.fetch(sql.MEMBERS_WITH_TIER_OR_SPEND, now - TIER_WINDOW):
        before = await conn.fetchval("SELECT tier_code FROM member WHERE id = $1", row["id"])
        after = await recompute_tier(conn, row["id"], now=now)
        changed += before != after
    return changed


async def _bonuses(
    conn: asyncpg.Connection,
    *,
    movement_id: uuid.UUID,
    store_id: uuid.UUID,
    member_id: uuid.UUID,
    total: int,
    reference: str,
    at: datetime,
) -> int:
    """Issue the e-coin of every campaign running at ``store_id`` whose threshold the purchase reaches."""
    issued = 0
    for c in await conn.fetch(sql.ACTIVE_CAMPAIGNS, store_id, at):
        times = total // int(c["spend_threshold"])
        times = times if c["repeat"] else min(times, 1)
        if times <= 0:
            continue
        bonus = times * int(c["bonus"])
        bonus_id = derived_id(movement_id, f"bonus:{c['id']}")
        await begin_movement(
            conn,
            bonus_id,
            "bonus",
            {"campaign_id": c["id"], "amount": bonus, "earning": movement_id},
            store_id=store_id,
            member_id=member_id,
            reason=str(c["name"]),
            reference=reference,
            campaign_id=c["id"],
        )
        account = await member_account(conn, member_id, "e_coin", store_id)
        source = await system_account(conn, "ecoin_issued", "e_coin", store_id)
        await post(conn, bonus_id, [(source, -bonus, False), (account, bonus, True)])
        await conn.execute(
            ledger_sql.INSERT_LOT,
            derived_id(bonus_id, "lot"),
            account,
            bonus_id,
            c["id"],
            bonus,
            at + timedelta(days=int(c["valid_days"])),
            c["ecoin_store_ids"],
            c["ecoin_categories"],
        )
        await finish_movement(conn, bonus_id, {"campaign_id": str(c["id"]), "e_coin": bonus})
        issued += bonus
    return issued


@atomic
async def post_earning(
    conn: asyncpg.Connection,
    *,
    movement_id: uuid.UUID,
    store_id: uuid.UUID,
    member_id: uuid.UUID,
    lines: Sequence[PurchaseLine],
    reference: str,
    at: datetime | None = None,
    staff_id: uuid.UUID | None = None,
    kind: str = "earn",
) -> EarningResult:
    """Credit a settled purchase: points per line by the earning rules (promotion-price lines at the
    promotion rate) times the member's tier multiplier, plus campaign e-coin. ``reference`` (the
    checkout or receipt number) earns once only: a second claim is refused with purchase_already_earned.
    Spend counts toward the tier, which is recomputed."""
    at = at or datetime.now(UTC)
    member = await member_for_store(conn, store_id, member_id)
    request = {"member_id": member_id, "reference": reference, "lines": list(lines)}
    done = await begin_movement(
        conn,
        movement_id,
        kind,
        request,
        store_id=store_id,
        member_id=member,
        reference=reference,
        reason="purchase",
        staff_id=staff_id,
    )
    if done is not None:
        return msgspec.convert(done, EarningResult)
    fmt = await conn.fetchval(ledger_sql.STORE_FORMAT, store_id)
    rules = await conn.fetch(sql.ACTIVE_RULES, store_id, fmt)
    multiplier = await _multiplier(conn, member)
    detail: list[dict[str, Any]] = []
    points = total = 0
    for line in lines:
        rule = _pick_rule(rules, line.category)
        rate = 0 if rule is None else int(rule["promo_rate"] if line.promo else rule["rate"])
        line_points = points_for(line.amount, rate, multiplier)
        detail.append(msgspec.to_builtins(line) | {"points": line_points, "refunded": 0})
        points += line_points
        total += line.amount
    claimed = await conn.fetchval(
        sql.CLAIM_PURCHASE, store_id, reference, member, movement_id, total, json.dumps(detail, ensure_ascii=False)
    )
    if claimed is None:
        raise Conflict(
            f"Purchase {reference} has already earned points for a member; it can earn only once.",
            MemberCodes.PURCHASE_ALREADY_EARNED,
            reference=reference,
        )
    account = await member_account(conn, member, "points", store_id)
    source = await system_account(conn, "points_issued", "points", store_id)
    await post(conn, movement_id, [(source, -points, False), (account, points, True)])
    await conn.execute(sql.INSERT_SPEND, movement_id, member, store_id, total, at)
    e_coin = await _bonuses(
        conn, movement_id=movement_id, store_id=store_id, member_id=member, total=total, reference=reference, at=at
    )
    tier = await recompute_tier(conn, member)
    result = EarningResult(
        movement_id=movement_id, member_id=member, reference=reference, points=points, e_coin=e_coin, tier=tier
    )
    await finish_movement(conn, movement_id, result)
    return result


@atomic
async def reverse_for_refund(
    conn: asyncpg.Connection,
    *,
    movement_id: uuid.UUID,
    store_id: uuid.UUID,
    original_reference: str,
    lines: Sequence[ReturnedLine],
    staff_id: uuid.UUID | None = None,
) -> RefundResult:
    """Take back the points earned on returned lines (in proportion to the amount returned; a whole
    line returns all its points) and the campaign e-coin the purchase earned (in proportion to the
    purchase's amount refunded so far). Points or e-coin the member already spent cannot go below zero:
    they are reported as ``shortfall`` / ``e_coin_shortfall`` for the refund to settle. The spend
    leaves the tier's 12 months."""
    request = {"original_reference": original_reference, "lines": list(lines)}
    earned = await conn.fetchrow(sql.EARNED_FOR_UPDATE, store_id, original_reference)
    if earned is None:
        raise AppError(
            MemberCodes.NOTHING_TO_REVERSE,
            f"Purchase {original_reference} earned nothing for a member here; nothing to take back.",
            status=404,
        )
    member = await member_for_store(conn, store_id, earned["member_id"], chain_wide=True)
    done = await begin_movement(
        conn,
        movement_id,
        "reverse_earn",
        request,
        store_id=store_id,
        member_id=member,
        reference=original_reference,
        reason="refund",
        staff_id=staff_id,
    )
    if done is not None:
        return msgspec.convert(done, RefundResult)
    detail: list[dict[str, Any]] = json.loads(earned["lines"])
    by_no = {int(d["line_no"]): d for d in detail}
    refunded_before = sum(int(d["refunded"]) for d in detail)
    points = refunded_total = 0
    for ret in lines:
        d = by_no.get(ret.line_no)
        if d is None or int(d["refunded"]) + ret.amount > int(d["amount"]):
            left = 0 if d is None else int(d["amount"]) - int(d["refunded"])
            raise Conflict(
                f"Line {ret.line_no} of {original_reference} has only {left} left to refund.",
                MemberCodes.REFUND_EXCEEDS_PURCHASE,
                line_no=ret.line_no,
                refundable=left,
            )
        amount, before = int(d["amount"]), int(d["refunded"])
        after = before + ret.amount
        # Cumulative proportions, so several partial returns of a line add up to exactly its points.
        points += int(d["points"]) * after // amount - int(d["points"]) * before // amount
        d["refunded"] = after
        refunded_total += ret.amount
    await conn.execute(sql.SET_EARNED_LINES, store_id, original_reference, json.dumps(detail, ensure_ascii=False))
    account = await member_account(conn, member, "points", store_id)
    balance = int(await conn.fetchval(sql.POINTS_ACCOUNT_BALANCE, account))
    taken = min(points, balance)
    source = await system_account(conn, "points_issued", "points", store_id)
    await post(conn, movement_id, [(account, -taken, True), (source, taken, False)])
    e_coin, e_coin_taken = await _reverse_bonuses(
        conn,
        movement_id=movement_id,
        store_id=store_id,
        member_id=member,
        reference=original_reference,
        earned=earned,
        before=refunded_before,
        after=refunded_before + refunded_total,
    )
    await conn.execute(sql.INSERT_SPEND, movement_id, member, store_id, -refunded_total, datetime.now(UTC))
    await recompute_tier(conn, member)
    result = RefundResult(
        movement_id=movement_id,
        points=taken,
        shortfall=points - taken,
        e_coin=e_coin_taken,
        e_coin_shortfall=e_coin - e_coin_taken,
    )
    await finish_movement(conn, movement_id, result)
    return result


async def _reverse_bonuses(
    conn: asyncpg.Connection,
    *,
    movement_id: uuid.UUID,
    store_id: uuid.UUID,
    member_id: uuid.UUID,
    reference: str,
    earned: asyncpg.Record,
    before: int,
    after: int,
) -> tuple[int, int]:
    """Take back the campaign e-coin a purchase earned, in proportion to the amount now refunded
    (cumulative, so a purchase refunded in steps gives back exactly its bonus). It comes off what is
    left of the lot the purchase earned, then the member's other e-coin of the same campaign, then any
    other e-coin (soonest-expiring first), never below zero. Returns (due, taken): the difference is
    what the member had already spent (or let expire)."""
    total = int(earned["amount"])
    if total <= 0:
        return 0, 0
    bonuses = await conn.fetch(sql.BONUSES_OF_EARNING, store_id, reference, str(earned["movement_id"]))
    due = sum(int(b["e_coin"]) * after // total - int(b["e_coin"]) * before // total for b in bonuses)
    if due <= 0:
        return 0, 0
    account = await member_account(conn, member_id, "e_coin", store_id)
    granted = {derived_id(b["id"], "lot"): b["campaign_id"] for b in bonuses}
    campaigns = set(granted.values())
    lots = await conn.fetch(ledger_sql.LOTS_OF_ACCOUNT, account)  # locked, soonest-expiring first
    order = sorted(lots, key=lambda lot: (lot["id"] not in granted, lot["campaign_id"] not in campaigns))
    taken = 0
    for lot in order:
        take = min(due - taken, int(lot["remaining"]))
        if take <= 0:
            break
        await conn.execute(ledger_sql.TAKE_FROM_LOT, lot["id"], take)
        taken += take
    source = await system_account(conn, "ecoin_issued", "e_coin", store_id)
    await post(conn, movement_id, [(account, -taken, True), (source, taken, False)])
    return due, taken


async def attach_days(conn: asyncpg.Connection, store_id: uuid.UUID) -> int:
    value = await conn.fetchval(sql.ATTACH_DAYS, store_id)
    return DEFAULT_ATTACH_DAYS if value is None else int(value)


@atomic
async def attach_purchase(
    conn: asyncpg.Connection,
    *,
    movement_id: uuid.UUID,
    store_id: uuid.UUID,
    member_id: uuid.UUID,
    receipt_no: str,
    amount: int,
    lines: Sequence[PurchaseLine],
    purchased_at: datetime,
    staff_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> EarningResult:
    """补积分: credit a purchase made without the member card, from its receipt, within the store's
    ``attach_days`` and only once (the receipt number is the earning reference)."""
    now = now or datetime.now(UTC)
    if sum(line.amount for line in lines) != amount:
        raise AppError(
            MemberCodes.LINES_DO_NOT_ADD_UP,
            "The receipt lines do not add up to its amount; check them.",
            details={"field": "lines"},
        )
    days = await attach_days(conn, store_id)
    if purchased_at < now - timedelta(days=days) or purchased_at > now + timedelta(minutes=5):
        raise AppError(
            MemberCodes.ATTACH_WINDOW_PASSED,
            f"Purchases can be attached to a member within {days} days; this receipt is outside that.",
            status=409,
            details={"attach_days": days},
        )
    return await post_earning(
        conn,
        movement_id=movement_id,
        store_id=store_id,
        member_id=member_id,
        lines=lines,
        reference=receipt_no,
        at=purchased_at,
        staff_id=staff_id,
        kind="attach",
    )
