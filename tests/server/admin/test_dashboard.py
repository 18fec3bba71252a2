"""The dashboard's figures against a small known day: what counts as today, refunds, open tickets,
sales by hour and by counter, another store kept out, and each device's sync health."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from protocol.ids import new_id
from server.admin import repository as repo
from server.admin.service import STALE_AFTER, device_health
from server.demo import DemoInfo
from server.settings import Settings
from tests.auth_helpers import activate_device, bearer, token_for
from tests.server.reports.sales import SHANGHAI, Line, refund, sell
from tests.stores import second_store


async def business_day(conn: asyncpg.Connection, store_id: uuid.UUID) -> date:
    row = await conn.fetchrow(repo.STORE_DAY, store_id)
    assert row is not None
    day: date = row["day"]
    return day


async def open_ticket(conn: asyncpg.Connection, store_id: uuid.UUID, day: date, total: int) -> uuid.UUID:
    counter = await conn.fetchval("SELECT id FROM counter WHERE store_id = $1 AND code = 'C-SNY'", store_id)
    device = await conn.fetchval("SELECT id FROM device WHERE store_id = $1 ORDER BY kind, label LIMIT 1", store_id)
    tid = new_id()
    await conn.execute(
        "INSERT INTO ticket (id, store_id, counter_id, device_id, number, total, currency, state, business_day,"
        " issue_command_id) VALUES ($1, $2, $3, $4, $5, $6, 'CNY', 'issued', $7, $8)",
        tid, store_id, counter, device, f"OPEN-{tid.hex[-8:]}", total, day, new_id(),
    )  # fmt: skip
    return tid


async def test_today_figures_by_hand(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, demo: DemoInfo, settings: Settings
) -> None:
    store = demo.store_id
    day = await business_day(conn, store)
    # Today: K1 at 10:15 (Apple 1,699.00 + Huawei 2 x 899.00), K2 at 15:15 (kettles 3 x 199.00).
    k1 = await sell(
        conn, store,
        [("C-APL", [Line("APL-APP2", 1, 169900, True)]), ("C-HUA", [Line("HUA-FB5", 2, 89900, True)])],
        day=day, hour=10, tenders=[("card", 169900), ("cash", 179800)],
    )  # fmt: skip
    await sell(conn, store, [("C-HOM", [Line("HOM-KT01", 3, 19900)])], day=day, hour=15, tenders=[("cash", 59700)])
    # 23:15 the evening before belongs to today: the business day ends at 23:00.
    await sell(
        conn, store, [("C-APL", [Line("APL-IP16", 1, 599900)])], day=day - timedelta(days=1), hour=23,
        tenders=[("card", 599900)],
    )  # fmt: skip
    # Not today: 22:15 the day before, and anything in another store.
    await sell(
        conn, store, [("C-APL", [Line("APL-IP16", 1, 599900)])], day=day - timedelta(days=1), hour=22,
        tenders=[("card", 599900)],
    )  # fmt: skip
    other = await second_store(conn)
    await sell(conn, other.store_id, [("C-X", [Line("X-1", 1, 1000)])], day=day, hour=10, tenders=[("cash", 1000)])
    # One FreeBuds of K1 back today, and a refund yesterday that does not count.
    now_local = datetime.now(SHANGHAI)
    await refund(conn, store, k1, ticket_index=1, line_no=1, qty=1, amount=89900, tender_index=1, at=now_local)
    await refund(
        conn, store, k1, ticket_index=0, line_no=1, qty=1, amount=100, tender_index=0,
        at=now_local - timedelta(days=2),
    )  # fmt: skip
    # Still open: one issued today, one from three days ago (not yet expired by the job).
    await open_ticket(conn, store, day, 249900)
    await open_ticket(conn, store, day - timedelta(days=3), 19900)
    # An unknown card outcome waiting in the exception queue.
    await conn.execute(
        "INSERT INTO payment (id, store_id, tender, amount, provider, status) VALUES ($1, $2, 'card', 5000, 'sim',"
        " 'unknown')",
        new_id(), store,
    )  # fmt: skip

    token = await token_for(conn, "M001", settings.secret_key)
    r = await client.get("/api/admin/dashboard", headers=bearer(token))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["business_day"] == day.isoformat()
    gross = 169900 + 179800 + 59700 + 599900
    assert d["sales"] == gross
    assert d["checkouts"] == 3
    assert d["refunds"] == 89900
    assert d["net_sales"] == gross - 89900
    assert d["average_checkout"] == gross // 3
    assert d["tickets_paid"] == 4  # K1's two, K2's one, the 23:15 one
    # Tickets of today's business day: K1's two, K2's one and the open one (the 23:15 sale was filed the day before).
    assert d["tickets_issued"] == 4
    assert d["open_tickets"] == 2
    assert d["unresolved_payments"] == 1
    hours = {h["hour"]: (h["sales"], h["checkouts"]) for h in d["by_hour"]}
    assert len(hours) == 24
    assert hours[10] == (169900 + 179800, 1)
    assert hours[15] == (59700, 1)
    assert hours[23] == (599900, 1)
    assert sum(s for s, _ in hours.values()) == gross
    counters = {c["code"]: (c["sales"], c["tickets"]) for c in d["by_counter"]}
    assert counters == {
        "C-APL": (169900 + 599900, 2),
        "C-HUA": (179800, 1),
        "C-HOM": (59700, 1),
        "C-SNY": (0, 0),
    }


async def test_device_sync_health(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, demo: DemoInfo, settings: Settings
) -> None:
    store = demo.store_id
    apple, _ = await activate_device(conn, "Handheld Apple 1")
    huawei, _ = await activate_device(conn, "Handheld Huawei 1")
    # Apple: seen just now, 3 commands applied (last no. 3), one refused now; it acknowledged 5 of 7 events.
    await conn.execute("UPDATE device SET last_seen_at = now() WHERE id = $1", apple)
    for seq, status in ((1, "applied"), (2, "replayed"), (3, "applied"), (4, "rejected")):
        await conn.execute(
            "INSERT INTO applied_command (command_id, device_id, store_id, device_seq, kind, content_hash, content,"
            " status, result) VALUES ($1, $2, $3, $4, 'issue_ticket', '\\x00', '{}', $5, $6)",
            new_id(), apple, store, seq, status, json.dumps({"status": status}),
        )  # fmt: skip
    await conn.execute("INSERT INTO device_sync (device_id, last_applied_seq, acked_position) VALUES ($1, 3, 5)", apple)
    await conn.execute(
        "INSERT INTO event_counter (store_id, last_position) VALUES ($1, 7)"
        " ON CONFLICT (store_id) DO UPDATE SET last_position = 7",
        store,
    )
    # Huawei: last seen an hour ago, nothing refused.
    await conn.execute("UPDATE device SET last_seen_at = now() - interval '1 hour' WHERE id = $1", huawei)
    # Till 1 stays pending; a revoked device of the demo store, and another store's device that must not show.
    revoked = new_id()
    await conn.execute(
        "INSERT INTO device (id, store_id, kind, label, state, revoked_at) VALUES ($1, $2, 'handheld', 'Old', "
        "'revoked', now())",
        revoked, store,
    )  # fmt: skip
    await second_store(conn)

    token = await token_for(conn, "M001", settings.secret_key)
    r = await client.get("/api/admin/dashboard", headers=bearer(token))
    assert r.status_code == 200, r.text
    devices = {d["label"]: d for d in r.json()["devices"]}
    assert set(devices) == {"Handheld Apple 1", "Handheld Huawei 1", "Till 1", "Old"}
    a = devices["Handheld Apple 1"]
    assert (a["last_applied_seq"], a["commands_applied"], a["commands_rejected"], a["rejected_24h"]) == (3, 3, 1, 1)
    assert a["events_behind"] == 2
    assert a["health"] == "rejects"
    h = devices["Handheld Huawei 1"]
    assert h["health"] == "stale"
    assert h["events_behind"] is None  # never streamed
    assert devices["Till 1"]["health"] == "pending"
    assert devices["Old"]["health"] == "revoked"


def test_health_words() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=SHANGHAI)
    base: dict[str, Any] = {"state": "active", "last_seen_at": None, "last_command_at": None, "rejected_24h": 0}
    assert device_health(base, now) == "never_seen"
    assert device_health(base | {"last_seen_at": now - timedelta(minutes=1)}, now) == "ok"
    assert device_health(base | {"last_seen_at": now - STALE_AFTER - timedelta(seconds=1)}, now) == "stale"
    # A recent command counts as being seen even if the token check did not stamp last_seen_at.
    assert device_health(base | {"last_command_at": now}, now) == "ok"
    assert device_health(base | {"last_seen_at": now, "rejected_24h": 2}, now) == "rejects"
    assert device_health(base | {"state": "pending"}, now) == "pending"
    assert device_health(base | {"state": "revoked", "last_seen_at": now}, now) == "revoked"


async def test_dashboard_is_for_managers_of_the_store(
    client: AsyncTestClient[Any], conn: asyncpg.Connection, demo: DemoInfo, settings: Settings
) -> None:
    other = await second_store(conn)
    day = await business_day(conn, other.store_id)
    await sell(conn, other.store_id, [("C-X", [Line("X-1", 2, 1000)])], day=day, hour=11, tenders=[("cash", 2000)])
    for code in ("S001", "C001", "V001"):
        r = await client.get("/api/admin/dashboard", headers=bearer(await token_for(conn, code, settings.secret_key)))
        assert r.status_code == 403, code
        assert r.json()["code"] == "forbidden"
    assert (await client.get("/api/admin/dashboard")).status_code == 401
    mine = await client.get("/api/admin/dashboard", headers=bearer(await token_for(conn, "M001", settings.secret_key)))
    theirs = await client.get(
        "/api/admin/dashboard", headers=bearer(await token_for(conn, "BJ02M", settings.secret_key))
    )
    assert mine.json()["store_code"] == "SH01"
    assert mine.json()["sales"] == 0
    assert theirs.json()["store_code"] == "BJ02"
    assert theirs.json()["sales"] == 2000
    store = await client.get("/api/admin/store", headers=bearer(await token_for(conn, "M001", settings.secret_key)))
    assert store.status_code == 200
    assert [c["code"] for c in store.json()["counters"]] == ["C-APL", "C-HOM", "C-HUA", "C-SNY"]
