"""Catalog full load and deltas by cursor (never missing a late commit), search, manager edits."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from server.demo import DEMO_PRODUCTS, DemoInfo
from server.settings import Settings
from tests.auth_helpers import activate_device, bearer, token_for
from tests.stores import second_store


async def as_staff(conn: asyncpg.Connection, settings: Settings, code: str = "M001") -> dict[str, str]:
    return bearer(await token_for(conn, code, settings.secret_key))


async def handheld(conn: asyncpg.Connection) -> dict[str, str]:
    _, token = await activate_device(conn, "Handheld Apple 1")
    return {"Authorization": f"Device {token}"}


async def load(client: AsyncTestClient[Any], headers: dict[str, str], since: str | None, limit: int = 5) -> Any:
    """Follow pages from ``since`` to the end; return (items, final cursor, pages)."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"since": since} if since else {})
        r = await client.get("/catalog/products", params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        since = page["next_cursor"]
        pages += 1
        if not page["more"]:
            return items, since, pages


async def test_full_load_in_pages_then_a_delta_after_an_update(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    device = await handheld(conn)
    items, cursor, pages = await load(client, device, None, limit=5)
    assert len(items) == len(DEMO_PRODUCTS) == 12
    assert pages == 3
    assert len({i["id"] for i in items}) == 12
    assert all(i["cost"] is None for i in items)  # devices never see cost
    # Nothing changed: the delta is empty and the cursor stays.
    r = (await client.get("/catalog/products", params={"since": cursor}, headers=device)).json()
    assert (r["items"], r["next_cursor"], r["more"], r["total"], r["remaining"]) == ([], cursor, False, 12, 0)
    # A manager changes a price and withdraws another product.
    manager = await as_staff(conn, settings)
    by_sku = {i["sku"]: i for i in items}
    r = await client.patch(
        f"/catalog/products/{by_sku['APL-IP16']['id']}", json={"promo_price": 579900}, headers=manager
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] > max(i["version"] for i in items)
    r = await client.patch(f"/catalog/products/{by_sku['HOM-KT01']['id']}", json={"active": False}, headers=manager)
    assert r.status_code == 200
    delta, cursor2, _ = await load(client, device, cursor)
    assert [(d["sku"], d["promo_price"], d["active"]) for d in delta] == [
        ("APL-IP16", 579900, True),
        ("HOM-KT01", 14900, False),  # tombstone
    ]
    assert (await client.get("/catalog/products", params={"since": cursor2}, headers=device)).json()["items"] == []
    actions = [
        r["action"]
        for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE object_type IN ('product', 'device', 'staff') ORDER BY id"
        )
    ]
    assert actions == ["product.changed", "product.changed"]


async def test_a_late_commit_is_never_skipped_by_a_delta(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, db_dsn: str
) -> None:
    device = await handheld(conn)
    _, cursor, _ = await load(client, device, None, limit=100)
    slow, fast = await asyncpg.connect(db_dsn), await asyncpg.connect(db_dsn)
    try:
        slow_tx = slow.transaction()
        await slow_tx.start()
        await slow.execute("UPDATE product SET list_price = list_price + 1 WHERE sku = 'APL-IP16'")

        async def fast_writer() -> None:
            async with fast.transaction():
                await fast.execute("UPDATE product SET list_price = list_price + 1 WHERE sku = 'HUA-P70'")

        fast_task = asyncio.create_task(fast_writer())
        await asyncio.sleep(0.3)
        # The later writer waits for the earlier one, so no reader can see its version first.
        assert not fast_task.done()
        r = (await client.get("/catalog/products", params={"since": cursor}, headers=device)).json()
        assert r["items"] == []
        await slow_tx.commit()
        await fast_task
    finally:
        await slow.close()
        await fast.close()
    delta, _, _ = await load(client, device, cursor)
    assert sorted(d["sku"] for d in delta) == ["APL-IP16", "HUA-P70"]


async def test_concurrent_writers_and_a_polling_reader_end_with_the_same_catalog(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, db_dsn: str
) -> None:
    device = await handheld(conn)
    items, cursor, _ = await load(client, device, None, limit=100)
    local = {i["id"]: i for i in items}
    writers = [await asyncpg.connect(db_dsn) for _ in range(4)]
    skus = [p[0] for p in DEMO_PRODUCTS]

    async def write(c: asyncpg.Connection, n: int) -> None:
        for round_ in range(6):
            async with c.transaction():
                await c.execute(
                    "UPDATE product SET list_price = list_price + 1 WHERE sku = $1", skus[(n + round_) % 12]
                )
                await asyncio.sleep(0.01 * ((n + round_) % 3))

    async def poll(stop: asyncio.Event) -> None:
        nonlocal cursor
        while not stop.is_set():
            delta, cursor, _ = await load(client, device, cursor, limit=3)
            local.update({d["id"]: d for d in delta})
            await asyncio.sleep(0.005)

    stop = asyncio.Event()
    reader = asyncio.create_task(poll(stop))
    try:
        await asyncio.gather(*(write(c, n) for n, c in enumerate(writers)))
    finally:
        stop.set()
        await reader
        for c in writers:
            await c.close()
    delta, cursor, _ = await load(client, device, cursor)
    local.update({d["id"]: d for d in delta})
    server = {str(r["id"]): r["list_price"] for r in await conn.fetch("SELECT id, list_price FROM product")}
    assert {k: v["list_price"] for k, v in local.items()} == server


async def test_search_by_sku_barcode_and_name(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await as_staff(conn, settings, "S001")

    async def search(q: str) -> list[str]:
        r = await client.get("/catalog/products", params={"q": q}, headers=headers)
        assert r.status_code == 200, r.text
        return sorted(i["sku"] for i in r.json()["items"])

    assert await search("APL-") == ["APL-APP2", "APL-IP16", "APL-MBA"]
    assert await search("6901234500073") == ["SNY-XM5"]
    assert await search("华为") == ["HUA-FB5", "HUA-P70", "HUA-WT4"]
    assert await search("kettle") == ["HOM-KT01"]
    assert await search("%") == []  # wildcards are text, not patterns
    page = (await client.get("/catalog/products", params={"q": "APL-"}, headers=headers)).json()
    assert page["total"] == 3


async def test_cost_is_shown_to_managers_only(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    sales = (await client.get("/catalog/products", headers=await as_staff(conn, settings, "S001"))).json()
    assert all(i["cost"] is None for i in sales["items"])
    manager = (await client.get("/catalog/products", headers=await as_staff(conn, settings))).json()
    assert all(i["cost"] is not None for i in manager["items"])


async def test_manager_creates_a_product_with_a_new_version_and_sku_stays_unique(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await as_staff(conn, settings)
    counter = await conn.fetchval("SELECT id FROM counter WHERE code = 'C-SNY'")
    body = {
        "sku": "SNY-WF5",
        "barcode": "6901234500134",
        "name_zh": "索尼耳机 WF-1000XM5",
        "name_en": "Sony WF-1000XM5",
        "category": "audio",
        "counter_id": str(counter),
        "list_price": 199900,
        "cost": 140000,
    }
    r = await client.post("/catalog/products", json=body, headers=headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["brand"] == "Sony"  # the counter's brand by default
    assert created["version"] > await conn.fetchval("SELECT max(version) FROM product WHERE id <> $1", created["id"])
    again = await client.post("/catalog/products", json=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "sku_taken"
    r = await client.patch(f"/catalog/products/{created['id']}", json={"sku": "SNY-XM5"}, headers=headers)
    assert r.json()["code"] == "sku_taken"
    stale = await client.patch(
        f"/catalog/products/{created['id']}",
        json={"list_price": 1, "if_version": created["version"] - 1},
        headers=headers,
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "version_mismatch"
    assert await conn.fetchval("SELECT list_price FROM product WHERE sku = 'SNY-WF5'") == 199900
    audit = await conn.fetchrow("SELECT action, staff_id FROM audit_log WHERE object_type = 'product'")
    assert audit["action"] == "product.created"


async def test_another_stores_products_and_counters_answer_not_found(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    other = await second_store(conn)
    headers = await as_staff(conn, settings)
    device = await handheld(conn)
    assert (await client.get(f"/catalog/products/{other.product_id}", headers=device)).status_code == 404
    assert (await client.get(f"/catalog/products/{other.product_id}", headers=headers)).status_code == 404
    r = await client.patch(f"/catalog/products/{other.product_id}", json={"list_price": 1}, headers=headers)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    assert await conn.fetchval("SELECT list_price FROM product WHERE id = $1", other.product_id) == 1000
    items, _, _ = await load(client, device, None, limit=100)
    assert str(other.product_id) not in {i["id"] for i in items}
    mine = await conn.fetchval("SELECT id FROM product WHERE sku = 'APL-IP16'")
    r = await client.patch(f"/catalog/products/{mine}", json={"counter_id": str(other.counter_id)}, headers=headers)
    assert r.status_code == 404
    assert (
        await conn.fetchval("SELECT count(*) FROM audit_log WHERE object_type IN ('product', 'device', 'staff')") == 0
    )


async def test_bad_queries_and_bodies_name_the_field_and_write_nothing(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    headers = await as_staff(conn, settings)
    for params, field in (({"since": "garbage"}, "since"), ({"limit": 0}, "limit"), ({"limit": "many"}, "limit")):
        r = await client.get("/catalog/products", params=params, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["details"]["field"] == field
    counter = str(await conn.fetchval("SELECT id FROM counter WHERE code = 'C-SNY'"))
    good = {"sku": "X", "name_zh": "x", "name_en": "x", "category": "x", "counter_id": counter, "list_price": 100}
    for change, field in (
        ({"list_price": "100"}, "list_price"),
        ({"list_price": -1}, "list_price"),
        ({"list_price": 1.5}, "list_price"),
        ({"promo_price": "cheap"}, "promo_price"),
        ({"sku": ""}, "sku"),
    ):
        r = await client.post("/catalog/products", json=good | change, headers=headers)
        assert r.status_code == 400, r.text
        assert r.json()["details"]["field"] == field
    mine = await conn.fetchval("SELECT id FROM product WHERE sku = 'APL-IP16'")
    r = await client.patch(f"/catalog/products/{mine}", json={"active": "yes"}, headers=headers)
    assert r.json()["details"]["field"] == "active"
    assert await conn.fetchval("SELECT count(*) FROM product") == 12
    assert await conn.fetchval("SELECT max(version) FROM product") == await conn.fetchval(
        "SELECT last_value FROM catalog_version"
    )


async def pages_of(
    client: AsyncTestClient[Any], headers: dict[str, str], since: str | None, limit: int, between: Any = None
) -> list[dict[str, Any]]:
    """Every page of one download; ``between(n)`` runs after page n is received."""
    pages: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"since": since} if since else {})
        r = await client.get("/catalog/products", params=params, headers=headers)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        since = pages[-1]["next_cursor"]
        if not pages[-1]["more"]:
            return pages
        if between is not None:
            await between(len(pages))


def figures(pages: list[dict[str, Any]]) -> list[tuple[int, int, int, bool]]:
    return [(p["total"], p["remaining"], len(p["items"]), p["more"]) for p in pages]


async def test_progress_figures_are_exact_on_every_page_and_counted_once(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection
) -> None:
    device = await handheld(conn)
    pages = await pages_of(client, device, None, limit=5)
    assert figures(pages) == [(12, 12, 5, True), (12, 7, 5, True), (12, 2, 2, False)]
    # The same figures a fresh count gives after each page's cursor.
    for page, after in zip(pages[1:], pages, strict=False):
        version, pid = after["next_cursor"].split(".")[:2]
        assert page["remaining"] == await conn.fetchval(
            "SELECT count(*) FROM product WHERE (version, id) > ($1, $2::uuid)", int(version), pid
        )
    # Later pages carry the figures in their cursor instead of counting again; the last cursor is a
    # plain one, so the next delta load counts afresh.
    assert [len(p["next_cursor"].split(".")) for p in pages] == [4, 4, 2]
    forged = pages[0]["next_cursor"].rsplit(".", 2)[0] + ".900.600"
    r = (await client.get("/catalog/products", params={"since": forged, "limit": 5}, headers=device)).json()
    assert (r["total"], r["remaining"], r["more"]) == (900, 600, True)
    # A cursor of the earlier form (kept by a device from an older server) still works and is counted.
    plain = pages[0]["next_cursor"].rsplit(".", 2)[0]
    r = (await client.get("/catalog/products", params={"since": plain, "limit": 5}, headers=device)).json()
    assert (r["total"], r["remaining"], len(r["items"])) == (12, 7, 5)
    for bad in (plain + ".1", plain + ".1.x", plain + ".-1.2", "1.2.3.4"):
        r = await client.get("/catalog/products", params={"since": bad}, headers=device)
        assert (r.status_code, r.json()["code"]) == (400, "bad_cursor"), bad


async def test_products_changed_during_a_download_come_again_at_its_end_and_the_figures_follow(
    client: AsyncTestClient[Any], demo: DemoInfo, conn: asyncpg.Connection, settings: Settings
) -> None:
    device = await handheld(conn)
    manager = await as_staff(conn, settings)
    sent: list[dict[str, Any]] = []

    async def change_after_first_page(n: int) -> None:
        if n == 1:
            # The five products the device already has change, and a product is added.
            first = (await client.get("/catalog/products", params={"limit": 5}, headers=device)).json()["items"]
            for item in first:
                r = await client.patch(
                    f"/catalog/products/{item['id']}", json={"list_price": item["list_price"] + 1}, headers=manager
                )
                assert r.status_code == 200, r.text
            sent.extend(first)
            counter = await conn.fetchval("SELECT id FROM counter WHERE code = 'C-SNY'")
            body = {"sku": "NEW-1", "name_zh": "新", "name_en": "New", "category": "audio"}
            r = await client.post(
                "/catalog/products", json=body | {"counter_id": str(counter), "list_price": 100}, headers=manager
            )
            assert r.status_code == 201, r.text

    pages = await pages_of(client, device, None, limit=5, between=change_after_first_page)
    # 12 at the start; 6 more rows come at the end (5 changed again, 1 new): 18 items in all. The
    # carried figure holds until a page proves more follow, and the last page is exact.
    assert figures(pages) == [(12, 12, 5, True), (12, 7, 5, True), (16, 6, 5, True), (18, 3, 3, False)]
    done = 0
    for page in pages:
        assert page["total"] - page["remaining"] == done  # what the download sent before this page
        done += len(page["items"])
    assert done == pages[-1]["total"] == 18
    final = {i["id"]: i for p in pages for i in p["items"]}
    assert len(final) == 13
    assert all(final[i["id"]]["list_price"] == i["list_price"] + 1 for i in sent)
