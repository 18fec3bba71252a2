"""The manager reports (sales analysis, member analysis, RFM and customer states), built from the fact tables."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Literal

import asyncpg

from protocol.reports import (
    RFM_SEGMENTS,
    Bucket,
    CategoryReport,
    CategoryRow,
    ConcessionReport,
    ConcessionRow,
    ContributionReport,
    ContributionRow,
    FormatWeight,
    PotentialReport,
    PotentialRow,
    PromotionCategoryReport,
    PromotionCategoryRow,
    PromotionMemberReport,
    PromotionMemberRow,
    ReportCodes,
    RfmReport,
    RfmRow,
    RfmSegmentReport,
    RfmSegmentRow,
    SalesStructureReport,
    StructureRow,
)
from server.errors import AppError
from server.reports import repository as sql
from server.reports.scope import Resolved, per, per_area, share, shown_name
from server.reports.states import set_thresholds as set_thresholds
from server.reports.states import state_summary as state_summary
from server.reports.states import states as states
from server.reports.states import thresholds as thresholds


async def _one(conn: asyncpg.Connection, query: str, *args: object) -> asyncpg.Record:
    row = await conn.fetchrow(query, *args)
    assert row is not None  # aggregates without GROUP BY always answer one row
    return row


def _category_row(key: str, sales: int, cost: int, tickets: int, area: float, total_sales: int) -> CategoryRow:
    gp = sales - cost
    return CategoryRow(
        key=key,
        sales=sales,
        cost=cost,
        gross_profit=gp,
        gross_margin=share(gp, sales),
        tickets=tickets,
        average_ticket=per(sales, tickets),
        floor_area_m2=round(area, 2),
        sales_per_m2=per_area(sales, area),
        gross_profit_per_m2=per_area(gp, area),
        share=share(sales, total_sales),
    )


async def categories(conn: asyncpg.Connection, r: Resolved, dimension: Literal["category", "brand"]) -> CategoryReport:
    """Sales, gross margin, tickets, average ticket and sales per m² by category or brand."""
    await conn.execute(sql.TUNE)
    args = (r.stores, r.scope.period_from, r.scope.period_to)
    rows = await conn.fetch(sql.CATEGORY if dimension == "category" else sql.BRAND, *args)
    tickets = rows[0]["all_tickets"] if rows else 0
    area = rows[0]["all_area"] if rows else 0.0
    total_sales = sum(row["sales"] for row in rows)
    out = [
        _category_row(row["key"], row["sales"], row["cost"], row["tickets"], row["area"], total_sales) for row in rows
    ]
    total = _category_row("*", total_sales, sum(x.cost for x in out), tickets, area, total_sales)
    return CategoryReport(scope=r.scope, dimension=dimension, rows=out, total=total)


def _promo_row(category: str, sales: int, promo: int) -> PromotionCategoryRow:
    return PromotionCategoryRow(
        category=category, sales=sales, promo_sales=promo, regular_sales=sales - promo, promo_share=share(promo, sales)
    )


async def promotion_categories(conn: asyncpg.Connection, r: Resolved) -> PromotionCategoryReport:
    """Share of sales at promotion prices, per category."""
    await conn.execute(sql.TUNE)
    rows = await conn.fetch(sql.PROMOTION_CATEGORY, r.stores, r.scope.period_from, r.scope.period_to)
    out = [_promo_row(row["category"], row["sales"], row["promo"]) for row in rows]
    total = _promo_row("*", sum(x.sales for x in out), sum(x.promo_sales for x in out))
    return PromotionCategoryReport(scope=r.scope, rows=out, total=total)


async def promotion_members(
    conn: asyncpg.Connection, r: Resolved, *, min_sales: int, limit: int, offset: int
) -> PromotionMemberReport:
    """Share of each member's spend at promotion prices: the promotion-sensitive first."""
    await conn.execute(sql.TUNE)
    args = (r.stores, r.scope.period_from, r.scope.period_to, min_sales)
    rows = await conn.fetch(sql.PROMOTION_MEMBER, *args, limit, offset)
    if rows:
        totals = {"total": rows[0]["total"], "sales": rows[0]["all_sales"], "promo": rows[0]["all_promo"]}
    else:
        totals = dict(await _one(conn, sql.PROMOTION_MEMBER_TOTALS, *args))
    out = [
        PromotionMemberRow(
            member_id=row["member_id"],
            name=shown_name(row["name"], row["phone"], r.show_personal),
            sales=row["sales"],
            promo_sales=row["promo"],
            regular_sales=row["sales"] - row["promo"],
            promo_share=share(row["promo"], row["sales"]),
            transactions=row["visits"],
        )
        for row in rows
    ]
    return PromotionMemberReport(
        scope=r.scope,
        members_total=totals["total"],
        average_promo_share=share(totals["promo"], totals["sales"]),
        rows=out,
    )


async def sales_structure(conn: asyncpg.Connection, r: Resolved) -> SalesStructureReport:
    """Payment-method mix (tenders), time-of-day mix (local hour paid), member vs non-member mix."""
    await conn.execute(sql.TUNE)
    args = (r.stores, r.scope.period_from, r.scope.period_to)
    tenders = await conn.fetch(sql.STRUCTURE_TENDERS, *args)
    grouped = await conn.fetch(sql.STRUCTURE_TICKETS, *args)
    hours = {row["hour"]: row for row in grouped if row["hour"] is not None}
    customers = {row["member"]: row for row in grouped if row["hour"] is None}
    tender_total = sum(row["sales"] for row in tenders)
    sales = sum(row["sales"] for row in hours.values())
    rows = [
        StructureRow(
            dimension="tender", key=t["key"], sales=t["sales"], count=t["count"], share=share(t["sales"], tender_total)
        )
        for t in tenders
    ]
    for hour in range(24):
        h = hours.get(hour)
        s = h["sales"] if h else 0
        rows.append(
            StructureRow(
                dimension="hour", key=f"{hour:02d}", sales=s, count=h["tickets"] if h else 0, share=share(s, sales)
            )
        )
    for key, flag in (("member", True), ("non_member", False)):
        c = customers.get(flag)
        s = c["sales"] if c else 0
        rows.append(
            StructureRow(dimension="customer", key=key, sales=s, count=c["visits"] if c else 0, share=share(s, sales))
        )
    return SalesStructureReport(scope=r.scope, sales=sales, rows=rows)


async def contribution(
    conn: asyncpg.Connection, r: Resolved, *, split: Literal["member", "format"], limit: int, offset: int
) -> ContributionReport:
    """Spend, transactions, gross profit and regular/promotion ratio per member (or member and
    format), with the configured format weights applied."""
    await conn.execute(sql.TUNE)
    weights = [
        FormatWeight(format_id=w["id"], format_code=w["code"], weight=w["weight"])
        for w in await conn.fetch(sql.FORMAT_WEIGHTS)
    ]
    page = await conn.fetch(sql.CONTRIBUTION_PAGE, *_args(r), limit, offset)
    total = page[0]["total"] if page else 0
    grouped: dict[uuid.UUID, list[asyncpg.Record]] = {row["member_id"]: [] for row in page}
    for row in await conn.fetch(sql.CONTRIBUTION_DETAIL, *_args(r), list(grouped)):
        grouped[row["member_id"]].append(row)
    out: list[ContributionRow] = []
    for member_id, parts in grouped.items():
        name = shown_name(parts[0]["name"], parts[0]["phone"], r.show_personal)
        if split == "format":
            out.extend(_contribution_row(member_id, name, p["format_code"], [p]) for p in parts)
        else:
            out.append(_contribution_row(member_id, name, "*", parts))
    return ContributionReport(scope=r.scope, split=split, weights=weights, members_total=total, rows=out)


def _contribution_row(member_id: uuid.UUID, name: str, code: str, parts: list[asyncpg.Record]) -> ContributionRow:
    spend = sum(p["spend"] for p in parts)
    visits = sum(p["visits"] for p in parts)
    cost = sum(p["cost"] for p in parts)
    promo = sum(p["promo"] for p in parts)
    return ContributionRow(
        member_id=member_id,
        name=name,
        format_code=code,
        spend=spend,
        transactions=visits,
        average_ticket=per(spend, visits),
        gross_profit=spend - cost,
        regular_sales=spend - promo,
        promo_sales=promo,
        regular_promo_ratio=round((spend - promo) / promo, 4) if promo else None,
        weighted_spend=round(sum(p["weight"] * p["spend"] for p in parts)),
        weighted_gross_profit=round(sum(p["weight"] * (p["spend"] - p["cost"]) for p in parts)),
    )


def buckets_of(start: date, end: date, n: int) -> list[Bucket]:
    """``n`` runs of days covering start..end, as the SQL assigns them: day d is in (d-start)*n // days."""
    days = (end - start).days + 1
    if n > days:
        raise AppError(ReportCodes.BAD_PERIOD, f"A period of {days} days cannot be split into {n} parts.")
    out = []
    for i in range(n):
        first = next(d for d in range(days) if d * n // days == i)
        last = max(d for d in range(first, days) if d * n // days == i)
        out.append(Bucket(index=i, period_from=start + timedelta(days=first), period_to=start + timedelta(days=last)))
    return out


async def potential(
    conn: asyncpg.Connection, r: Resolved, *, buckets: int, flagged_only: bool, limit: int, offset: int
) -> PotentialReport:
    """Spend, average ticket and frequency per part of the period; two of three rising flags a member."""
    await conn.execute(sql.TUNE)
    spans = buckets_of(r.scope.period_from, r.scope.period_to, buckets)
    args = (r.stores, r.scope.period_from, r.scope.period_to, buckets)
    rows = await conn.fetch(sql.POTENTIAL, *args, limit, offset, flagged_only)
    if rows and not flagged_only:
        counts = {"total": rows[0]["total"], "flagged": rows[0]["flagged_total"]}
    else:
        counts = dict(await _one(conn, sql.POTENTIAL_FLAGGED, *args))
    out = []
    for row in rows:
        spend = [0] * buckets
        visits = [0] * buckets
        for b, s, v in zip(row["bs"], row["spends"], row["vs"], strict=True):
            spend[b], visits[b] = s, v
        out.append(
            PotentialRow(
                member_id=row["member_id"],
                name=shown_name(row["name"], row["phone"], r.show_personal),
                spend=row["spend"],
                transactions=row["visits"],
                average_ticket=per(row["spend"], row["visits"]),
                spend_by_bucket=spend,
                transactions_by_bucket=visits,
                average_ticket_by_bucket=[per(s, v) if v > 0 else None for s, v in zip(spend, visits, strict=True)],
                spend_rising=row["spend_rising"],
                average_ticket_rising=row["avg_rising"],
                frequency_rising=row["frequency_rising"],
                rising=row["rising"],
                flagged=row["rising"] >= 2,
            )
        )
    return PotentialReport(
        scope=r.scope,
        buckets=spans,
        members_total=counts["total"],
        flagged_total=counts["flagged"],
        rows=out,
    )


async def rfm(conn: asyncpg.Connection, r: Resolved, *, segments: list[str], limit: int, offset: int) -> RfmReport:
    """RFM scores (quintiles) and segment of every member who bought in the period."""
    await conn.execute(sql.TUNE)
    unknown = sorted(set(segments) - set(RFM_SEGMENTS))
    if unknown:
        raise AppError(
            ReportCodes.BAD_THRESHOLDS, f"Unknown RFM segment {unknown[0]!r}; use {', '.join(RFM_SEGMENTS)}."
        )
    rows = await conn.fetch(sql.RFM_PAGE, r.stores, r.scope.period_from, r.scope.period_to, segments, limit, offset)
    out = [
        RfmRow(
            member_id=row["member_id"],
            name=shown_name(row["name"], row["phone"], r.show_personal),
            last_day=row["last_day"],
            recency_days=row["recency_days"],
            frequency=row["frequency"],
            monetary=row["monetary"],
            r=row["r"],
            f=row["f"],
            m=row["m"],
            segment=row["segment"],
        )
        for row in rows
    ]
    return RfmReport(scope=r.scope, members_total=rows[0]["total"] if rows else 0, rows=out)


async def rfm_segments(conn: asyncpg.Connection, r: Resolved) -> RfmSegmentReport:
    await conn.execute(sql.TUNE)
    found = {row["segment"]: row for row in await conn.fetch(sql.RFM_SEGMENTS, *_args(r))}
    total = sum(row["members"] for row in found.values())
    rows = []
    for seg in RFM_SEGMENTS:
        row = found.get(seg)
        rows.append(
            RfmSegmentRow(
                segment=seg,  # type: ignore[arg-type]
                members=row["members"] if row else 0,
                share=share(row["members"], total) if row else 0.0,
                monetary=row["monetary"] if row else 0,
                average_recency_days=round(row["recency"], 2) if row else 0.0,
                average_frequency=round(row["frequency"], 2) if row else 0.0,
                average_monetary=row["avg_monetary"] if row else 0,
            )
        )
    return RfmSegmentReport(scope=r.scope, members_total=total, rows=rows)


def _args(r: Resolved) -> tuple[list[uuid.UUID], date, date]:
    return r.stores, r.scope.period_from, r.scope.period_to


async def concessions(conn: asyncpg.Connection, r: Resolved) -> ConcessionReport:
    """What each concession counter earned in the period and what the store owes it after commission."""
    await conn.execute(sql.TUNE)
    out = []
    for row in await conn.fetch(sql.CONCESSIONS, *_args(r)):
        net = row["gross"] - row["refunds"]
        commission = per(net * row["rate_bp"], 10_000)
        out.append(
            ConcessionRow(
                counter_id=row["id"],
                store_id=row["store_id"],
                code=row["code"],
                name=f"{row['name_zh']} {row['name_en']}",
                brand=row["brand"],
                tickets=row["tickets"],
                gross_sales=row["gross"],
                refunds=row["refunds"],
                net_sales=net,
                commission_bp=row["rate_bp"],
                commission=commission,
                payable=net - commission,
            )
        )
    return ConcessionReport(
        scope=r.scope,
        rows=out,
        net_sales=sum(x.net_sales for x in out),
        commission=sum(x.commission for x in out),
        payable=sum(x.payable for x in out),
    )
