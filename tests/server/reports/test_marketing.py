"""Segments over the known November: counts as the filter changes, saved segments, the export, and
service tasks from a segment through outcomes, follow-ups and results."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from server.settings import Settings
from tests.auth_helpers import bearer, token_for
from tests.server.reports.conftest import November
from tests.server.reports.sales import SHANGHAI, Line, sell
from tests.stores import second_store

WINDOW = {"window_from": "2026-11-01", "window_to": "2026-11-30"}


async def count(client: AsyncTestClient[Any], headers: dict[str, str], **f: Any) -> int:
    r = await client.post("/api/admin/segments/preview", json=WINDOW | f, headers=headers)
    assert r.status_code == 200, r.text
    return int(r.json()["members"])


@pytest.mark.parametrize(
    ("conditions", "who"),
    [
        ({}, "abc"),
        ({"min_spend": 300000}, "a"),
        ({"min_transactions": 1}, "ab"),
        ({"max_transactions": 0}, "c"),
        ({"min_average_ticket": 300000}, "a"),  # A: 1,049,600 / 2 = 524,800
        ({"max_average_ticket": 300000}, "b"),
        ({"categories": ["wearables"]}, "b"),
        ({"categories": ["audio", "wearables"]}, "ab"),
        ({"brands": ["Apple"]}, "a"),
        ({"brands": ["Huawei"], "max_spend": 500000}, "b"),
        ({"rfm_segments": ["champions"]}, "a"),
        ({"min_r": 2}, "a"),
        ({"states": ["prospect"]}, "c"),
        ({"states": ["new", "repeat"]}, "ab"),
        ({"states": ["lost"]}, ""),
    ],
)
async def test_segment_counts(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str], conditions: dict[str, Any], who: str
) -> None:
    r = await client.post("/api/admin/segments/preview", json=WINDOW | conditions, headers=manager)
    assert r.status_code == 200, r.text
    body = r.json()
    ids = {"a": str(november.a), "b": str(november.b), "c": str(november.c)}
    assert body["members"] == len(who)
    assert sorted(m["member_id"] for m in body["sample"]) == sorted(ids[x] for x in who)


async def test_tier_filter_and_store_scope(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str], conn: asyncpg.Connection,
    settings: Settings,
) -> None:  # fmt: skip
    await conn.execute("UPDATE member SET tier_code = 'star2' WHERE id = $1", november.b)
    assert await count(client, manager, tiers=["star2"]) == 1
    other = await second_store(conn)
    r = await client.post("/api/admin/segments/preview", json=WINDOW | {"store_id": str(other.store_id)},
                          headers=manager)  # fmt: skip
    assert r.status_code == 404
    theirs = bearer(await token_for(conn, "BJ02M", settings.secret_key))
    assert await count(client, theirs) == 0  # our members are not known there


async def test_saved_segment_and_export_masking(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str], admin: dict[str, str],
    conn: asyncpg.Connection, settings: Settings,
) -> None:  # fmt: skip
    r = await client.post("/api/admin/segments", json={"name": "Buyers", "filter": WINDOW | {"min_transactions": 1}},
                          headers=manager)  # fmt: skip
    assert r.status_code == 201, r.text
    seg = r.json()
    assert seg["store_id"] == str(november.store_id)
    listed = (await client.get("/api/admin/segments", headers=manager)).json()
    assert [s["id"] for s in listed] == [seg["id"]]
    r = await client.get(f"/api/admin/segments/{seg['id']}/members", params={"format": "csv"}, headers=manager)
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["name"], x["phone"], x["spend"], x["transactions"]) for x in rows] == [
        ("赵**", "139****0001", "1049600", "2"),
        ("钱**", "139****0002", "249900", "1"),
    ]
    r = await client.get(f"/api/admin/segments/{seg['id']}/members", params={"format": "csv"}, headers=admin)
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0]["phone"] == "13900000001"
    assert rows[0]["name"] == "赵敏 Zhao Min"
    await second_store(conn)
    theirs = bearer(await token_for(conn, "BJ02M", settings.secret_key))
    r = await client.get(f"/api/admin/segments/{seg['id']}/members", headers=theirs)
    assert r.status_code == 404
    r = await client.get(f"/api/admin/segments/{seg['id']}", headers=theirs)
    assert r.status_code == 404


async def test_service_tasks_from_a_segment(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str], conn: asyncpg.Connection,
    settings: Settings,
) -> None:  # fmt: skip
    await conn.execute("UPDATE member SET consent_marketing = true WHERE id = ANY($1::uuid[])",
                       [november.a, november.b])  # fmt: skip
    seg = (
        await client.post(
            "/api/admin/segments", json={"name": "Buyers", "filter": WINDOW | {"min_transactions": 1}}, headers=manager
        )
    ).json()
    s1, s2 = [await conn.fetchval("SELECT id FROM staff WHERE code = $1", c) for c in ("S001", "S002")]
    today = datetime.now(SHANGHAI).date()
    new = {"segment_id": seg["id"], "name": "Thank-you calls", "kind": "call", "due_date": str(today - timedelta(1)),
           "staff_ids": [str(s1), str(s2)]}  # fmt: skip
    r = await client.post("/api/admin/campaigns", json=new, headers=manager)
    assert r.status_code == 201, r.text
    campaign = r.json()
    assert (campaign["tasks"], campaign["skipped_without_consent"]) == (2, 0)
    # Messages need SMS consent, which nobody gave.
    r = await client.post("/api/admin/campaigns", json=new | {"kind": "message"}, headers=manager)
    assert r.status_code == 400
    assert r.json()["code"] == "segment_empty"
    sales1 = bearer(await token_for(conn, "S001", settings.secret_key))
    sales2 = bearer(await token_for(conn, "S002", settings.secret_key))
    mine = (await client.get("/api/tasks/mine", headers=sales1)).json()
    assert [(t["member_id"], t["phone"], t["kind"], t["state"]) for t in mine] == [
        (str(november.a), "13900000001", "call", "open")  # the bigger spender to the first staff member
    ]
    task = mine[0]["id"]
    r = await client.post(f"/api/tasks/{task}/outcome", json={"outcome": "reached"}, headers=sales2)
    assert r.status_code == 403
    assert r.json()["code"] == "not_your_task"
    follow = {"due_date": str(today + timedelta(7)), "kind": "visit"}
    r = await client.post(f"/api/tasks/{task}/outcome", json={"outcome": "interested", "note": "wants a watch",
                                                             "follow_up": follow}, headers=sales1)  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["outcome"]) == ("done", "interested")
    r = await client.post(f"/api/tasks/{task}/outcome", json={"outcome": "reached"}, headers=sales1)
    assert r.status_code == 409
    assert r.json()["code"] == "task_closed"
    open_now = (await client.get("/api/tasks/mine", params={"state": "open"}, headers=sales1)).json()
    assert [(t["kind"], t["follow_up_of"]) for t in open_now] == [("visit", task)]
    # A buys after the call: the task converts.
    await sell(conn, november.store_id, [("C-HUA", [Line("HUA-WT4", 1, 249900)])], day=today, hour=12,
               member_id=november.a, tenders=[("card", 249900)])  # fmt: skip
    res = (await client.get("/api/admin/campaigns/results", params={"by": "staff"}, headers=manager)).json()
    by = {r["key"]: r for r in res["rows"]}
    assert (by["S001"]["tasks"], by["S001"]["done"], by["S001"]["open"], by["S001"]["follow_ups"]) == (2, 1, 1, 1)
    assert (by["S001"]["interested"], by["S001"]["converted"], by["S001"]["converted_spend"]) == (1, 1, 249900)
    assert (by["S002"]["tasks"], by["S002"]["done"], by["S002"]["overdue"], by["S002"]["completion"]) == (1, 0, 1, 0.0)
    res = (await client.get("/api/admin/campaigns/results", params={"by": "campaign"}, headers=manager)).json()
    assert [(r["key"], r["tasks"], r["done"], r["completion"]) for r in res["rows"]] == [
        (campaign["id"], 3, 1, round(1 / 3, 4))
    ]
    # Another store sees neither the campaign nor its tasks.
    other = await second_store(conn)
    theirs = bearer(await token_for(conn, "BJ02M", settings.secret_key))
    assert (await client.get(f"/api/admin/campaigns/{campaign['id']}/tasks", headers=theirs)).status_code == 404
    r = await client.post(f"/api/tasks/{open_now[0]['id']}/outcome", json={"outcome": "reached"}, headers=theirs)
    assert r.status_code == 404
    r = await client.post("/api/admin/campaigns", json=new | {"staff_ids": [str(other.sales_id)]}, headers=manager)
    assert r.status_code == 404
    tasks = (await client.get(f"/api/admin/campaigns/{campaign['id']}/tasks", headers=manager)).json()
    assert {t["phone"] for t in tasks} == {"139****0001", "139****0002"}  # masked for the manager's list
