"""Every report's figures over the known November (see conftest), computed by hand."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.server.reports.conftest import November, q

URL = "/api/admin/reports"


async def get(client: AsyncTestClient[Any], path: str, headers: dict[str, str], **params: Any) -> Any:
    r = await client.get(URL + path, params=q(**params), headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def area_share(area: float, part: int, whole: int) -> float:
    return area * part / whole


async def test_category_analysis(client: AsyncTestClient[Any], november: November, manager: dict[str, str]) -> None:
    body = await get(client, "/categories", manager)
    rows = {r["key"]: r for r in body["rows"]}
    assert [r["key"] for r in body["rows"]] == ["phones", "audio", "wearables", "small-appliances"]
    audio = rows["audio"]
    assert audio["sales"] == 169900 + 179800 + 189900 - 89900
    assert audio["cost"] == 140000 + 2 * 65000 + 140000 - 65000
    assert audio["gross_profit"] == 449700 - 345000
    assert audio["gross_margin"] == round(104700 / 449700, 4)
    assert audio["tickets"] == 3
    assert audio["average_ticket"] == 149900  # 449700 / 3
    apl_total, hua_total = 169900 + 599900 + 189900, 179800 - 89900 + 249900
    audio_area = area_share(42, 169900 + 189900, apl_total) + area_share(38, 179800 - 89900, hua_total)
    assert audio["floor_area_m2"] == pytest.approx(round(audio_area, 2))
    assert audio["sales_per_m2"] == round(449700 / audio_area)
    phones = rows["phones"]
    assert (phones["sales"], phones["gross_profit"], phones["tickets"]) == (599900, 79900, 1)
    assert phones["floor_area_m2"] == pytest.approx(round(area_share(42, 599900, apl_total), 2))
    small = rows["small-appliances"]
    assert (small["floor_area_m2"], small["sales_per_m2"], small["gross_profit_per_m2"]) == (120.0, 498, 273)
    total = body["total"]
    assert (total["sales"], total["tickets"], total["floor_area_m2"]) == (1359200, 5, 200.0)
    assert total["average_ticket"] == 1359200 // 5
    assert sum(r["share"] for r in body["rows"]) == pytest.approx(1, abs=1e-3)


async def test_brand_analysis(client: AsyncTestClient[Any], november: November, manager: dict[str, str]) -> None:
    body = await get(client, "/categories", manager, dimension="brand")
    rows = {r["key"]: (r["sales"], r["cost"], r["tickets"], r["floor_area_m2"]) for r in body["rows"]}
    assert rows == {
        "Apple": (959700, 140000 + 520000 + 140000, 2, 42.0),
        "Huawei": (179800 + 249900 - 89900, 130000 + 180000 - 65000, 2, 38.0),
        "Store brand": (59700, 27000, 1, 120.0),
    }


async def test_promotion_sensitivity(client: AsyncTestClient[Any], november: November, manager: dict[str, str]) -> None:
    cats = await get(client, "/promotion/categories", manager)
    audio = next(r for r in cats["rows"] if r["category"] == "audio")
    assert (audio["sales"], audio["promo_sales"], audio["regular_sales"]) == (449700, 259800, 189900)
    assert audio["promo_share"] == round(259800 / 449700, 4)
    assert cats["total"]["promo_sales"] == 259800
    assert cats["total"]["promo_share"] == round(259800 / 1359200, 4)
    members = await get(client, "/promotion/members", manager)
    assert members["members_total"] == 2
    a, b = members["rows"]
    assert a["member_id"] == str(november.a)
    assert (a["sales"], a["promo_sales"], a["transactions"]) == (1049600, 259800, 2)
    assert a["promo_share"] == round(259800 / 1049600, 4)
    assert (b["member_id"], b["promo_share"], b["transactions"]) == (str(november.b), 0.0, 1)
    assert members["average_promo_share"] == round(259800 / (1049600 + 249900), 4)
    assert a["name"] == "赵** 139****0001"  # masked for a manager


async def test_sales_structure(client: AsyncTestClient[Any], november: November, manager: dict[str, str]) -> None:
    body = await get(client, "/sales-structure", manager)
    assert body["sales"] == 1359200
    by = {(r["dimension"], r["key"]): (r["sales"], r["count"]) for r in body["rows"]}
    assert by[("tender", "card")] == (769800, 1)
    assert by[("tender", "cash")] == (179800 + 59700 - 89900, 2)
    assert by[("tender", "wallet")] == (249900, 1)
    assert by[("tender", "stored_value")] == (189900, 1)
    assert by[("hour", "10")] == (949600, 2)
    assert by[("hour", "11")] == (-89900, 0)  # the refund, when it was made
    assert by[("hour", "15")] == (59700, 1)
    assert by[("hour", "19")] == (439800, 2)
    assert by[("hour", "03")] == (0, 0)
    assert len([r for r in body["rows"] if r["dimension"] == "hour"]) == 24
    assert by[("customer", "member")] == (1299500, 3)
    assert by[("customer", "non_member")] == (59700, 1)
    member = next(r for r in body["rows"] if r["key"] == "member")
    assert member["share"] == round(1299500 / 1359200, 4)


async def test_member_contribution_and_format_weight(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str], admin: dict[str, str],
    conn: asyncpg.Connection,
) -> None:  # fmt: skip
    body = await get(client, "/member-contribution", manager)
    assert body["members_total"] == 2
    a, b = body["rows"]
    assert a["member_id"] == str(november.a)
    assert (a["spend"], a["transactions"], a["average_ticket"]) == (1049600, 2, 524800)
    assert a["gross_profit"] == 1049600 - (660000 + 130000 + 140000 - 65000)
    assert (a["regular_sales"], a["promo_sales"]) == (789800, 259800)
    assert a["regular_promo_ratio"] == round(789800 / 259800, 4)
    assert (a["weighted_spend"], a["weighted_gross_profit"]) == (1049600, 184600)
    assert (b["spend"], b["gross_profit"], b["regular_promo_ratio"]) == (249900, 69900, None)
    fmt = await conn.fetchval("SELECT format_id FROM store WHERE id = $1", november.store_id)
    r = await client.put(f"/api/admin/analytics/format-weights/{fmt}", json={"weight": 1.5}, headers=manager)
    assert r.status_code == 403  # weights are chain-wide: the administrator's
    r = await client.put(f"/api/admin/analytics/format-weights/{fmt}", json={"weight": 1.5}, headers=admin)
    assert r.status_code == 200, r.text
    body = await get(client, "/member-contribution", manager, split="format")
    a = body["rows"][0]
    assert (a["format_code"], a["weighted_spend"], a["weighted_gross_profit"]) == ("DEPT", 1574400, 276900)
    assert body["weights"][0]["weight"] == 1.5


async def test_member_potential_flags_two_of_three_rising(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str]
) -> None:
    body = await get(client, "/member-potential", manager, buckets=2)
    assert [(x["period_from"], x["period_to"]) for x in body["buckets"]] == [
        ("2026-11-01", "2026-11-15"),
        ("2026-11-16", "2026-11-30"),
    ]
    assert (body["members_total"], body["flagged_total"]) == (2, 1)
    b, a = body["rows"]  # flagged first
    assert b["member_id"] == str(november.b)
    assert (b["spend_by_bucket"], b["transactions_by_bucket"], b["average_ticket_by_bucket"]) == (
        [0, 249900], [0, 1], [None, 249900],
    )  # fmt: skip
    assert (b["spend_rising"], b["frequency_rising"], b["average_ticket_rising"], b["flagged"]) == (
        True, True, False, True,
    )  # fmt: skip
    assert a["spend_by_bucket"] == [949600, 189900 - 89900]
    assert a["average_ticket_by_bucket"] == [949600, 100000]
    assert (a["rising"], a["flagged"]) == (0, False)
    only = await get(client, "/member-potential", manager, buckets=2, flagged_only="true")
    assert [x["member_id"] for x in only["rows"]] == [str(november.b)]
    r = await client.get(URL + "/member-potential", params={"from": "2026-11-01", "to": "2026-11-02", "buckets": 3},
                         headers=manager)  # fmt: skip
    assert r.status_code == 400
    assert r.json()["code"] == "bad_period"


async def test_rfm_scores_and_segments(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str]
) -> None:
    body = await get(client, "/rfm", manager)
    rows = {r["member_id"]: r for r in body["rows"]}
    a, b = rows[str(november.a)], rows[str(november.b)]
    assert (a["last_day"], a["recency_days"], a["frequency"], a["monetary"]) == ("2026-11-25", 5, 2, 1049600)
    assert (a["r"], a["f"], a["m"], a["segment"]) == (5, 5, 5, "champions")
    assert (b["recency_days"], b["r"], b["f"], b["m"], b["segment"]) == (10, 1, 1, 1, "hibernating")
    segs = await get(client, "/rfm/segments", manager)
    counts = {s["segment"]: s["members"] for s in segs["rows"]}
    assert counts == {"champions": 1, "loyal": 0, "promising": 0, "needs_attention": 0, "at_risk": 0, "hibernating": 1}
    only = await get(client, "/rfm", manager, segment="hibernating")
    assert [r["member_id"] for r in only["rows"]] == [str(november.b)]


async def test_customer_states_follow_the_thresholds(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str]
) -> None:
    body = await get(client, "/customer-states", manager)
    states = {r["member_id"]: r["state"] for r in body["rows"]}
    assert states == {str(november.a): "repeat", str(november.b): "new", str(november.c): "prospect"}
    assert {s["state"]: s["members"] for s in body["summary"]} == {
        "prospect": 1, "new": 1, "repeat": 1, "loyal": 0, "lapsing": 0, "lost": 0,
    }  # fmt: skip
    t = {"lookback_days": 365, "repeat_min_transactions": 2, "loyal_min_transactions": 3, "lapsing_days": 3,
         "lost_days": 8}  # fmt: skip
    r = await client.put("/api/admin/analytics/state-thresholds", json=t, headers=manager)
    assert r.status_code == 200, r.text
    body = await get(client, "/customer-states", manager)
    states = {r["member_id"]: r["state"] for r in body["rows"]}
    assert states == {str(november.a): "lapsing", str(november.b): "lost", str(november.c): "prospect"}
    assert body["thresholds"] == t
    # As of 26 November A bought 1 day ago; with loyalty from 2 transactions... refused: must exceed repeat.
    bad = t | {"loyal_min_transactions": 2}
    r = await client.put("/api/admin/analytics/state-thresholds", json=bad, headers=manager)
    assert r.status_code == 400
    t2 = t | {"repeat_min_transactions": 2, "loyal_min_transactions": 3, "lapsing_days": 30, "lost_days": 60}
    await client.put("/api/admin/analytics/state-thresholds", json=t2, headers=manager)
    body = await get(client, "/customer-states", manager, to="2026-11-26", state="repeat")
    assert [(r["member_id"], r["days_since_last"], r["transactions"]) for r in body["rows"]] == [
        (str(november.a), 1, 2)
    ]
    assert body["members_total"] == 1


async def test_concession_settlement(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str], conn: asyncpg.Connection
) -> None:
    apl, hua = [
        await conn.fetchval("SELECT id FROM counter WHERE code = $1 AND store_id = $2", code, november.store_id)
        for code in ("C-APL", "C-HUA")
    ]
    for counter, bp in ((apl, 1500), (hua, 1234)):
        r = await client.put(f"/api/admin/analytics/commissions/{counter}", json={"rate_bp": bp}, headers=manager)
        assert r.status_code == 200, r.text
    body = await get(client, "/concessions", manager)
    rows = {r["code"]: r for r in body["rows"]}
    assert set(rows) == {"C-APL", "C-HUA", "C-SNY"}  # own counters are not settled
    assert {k: (v["tickets"], v["gross_sales"], v["refunds"], v["net_sales"], v["commission"], v["payable"])
            for k, v in rows.items()} == {
        "C-APL": (2, 959700, 0, 959700, 143955, 815745),
        "C-HUA": (2, 429700, 89900, 339800, 41931, 297869),  # 339800 x 12.34% = 41931.32
        "C-SNY": (0, 0, 0, 0, 0, 0),
    }  # fmt: skip
    assert (body["net_sales"], body["commission"], body["payable"]) == (1299500, 185886, 1113614)


async def test_period_outside_the_sales_is_empty(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str]
) -> None:
    r = await client.get(URL + "/categories", params={"from": "2026-10-01", "to": "2026-10-31"}, headers=manager)
    assert r.json()["rows"] == []
    assert r.json()["total"]["sales"] == 0
    r = await client.get(URL + "/categories", params={"from": "2026-12-01", "to": "2026-11-01"}, headers=manager)
    assert r.status_code == 400
    assert r.json()["code"] == "bad_period"
