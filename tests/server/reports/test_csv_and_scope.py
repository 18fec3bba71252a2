"""CSV carries the same rows as JSON; managers see their own store only, admins the chain."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from server.settings import Settings
from tests.auth_helpers import bearer, token_for
from tests.server.reports.conftest import November, q
from tests.server.reports.sales import Line, sell
from tests.stores import second_store

REPORTS = [
    ("/categories", {}),
    ("/categories", {"dimension": "brand"}),
    ("/promotion/categories", {}),
    ("/promotion/members", {}),
    ("/sales-structure", {}),
    ("/member-contribution", {"split": "format"}),
    ("/member-potential", {"buckets": 2}),
    ("/rfm", {}),
    ("/rfm/segments", {}),
    ("/customer-states", {}),
    ("/customer-states/summary", {}),
    ("/concessions", {}),
]


def as_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(as_cell(v) for v in value)
    return str(value)


@pytest.mark.parametrize(("path", "params"), REPORTS)
async def test_csv_has_the_json_rows(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    url = "/api/admin/reports" + path
    body = (await client.get(url, params=q(**params), headers=manager)).json()
    assert body["rows"], path
    r = await client.get(url, params=q(format="csv", **params), headers=manager)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"  # the charset once, not twice
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header, lines = table[0], table[1:]
    assert header == list(body["rows"][0].keys())
    assert lines == [[as_cell(row[k]) for k in header] for row in body["rows"]]
    # The Accept header asks for the same.
    r2 = await client.get(url, params=q(**params), headers=manager | {"Accept": "text/csv"})
    assert r2.content == r.content


async def test_roles_and_stores(
    client: AsyncTestClient[Any], november: November, manager: dict[str, str], admin: dict[str, str],
    conn: asyncpg.Connection, settings: Settings,
) -> None:  # fmt: skip
    url = "/api/admin/reports/categories"
    other = await second_store(conn)
    await sell(conn, other.store_id, [("C-X", [Line("X-1", 2, 1000)])], day=date(2026, 11, 3),
               hour=12, tenders=[("cash", 2000)])  # fmt: skip
    for code in ("S001", "C001", "V001"):
        r = await client.get(url, params=q(), headers=bearer(await token_for(conn, code, settings.secret_key)))
        assert r.status_code == 403, code
    # A manager asking for another store: not found; their own report never includes it.
    r = await client.get(url, params=q(store_id=str(other.store_id)), headers=manager)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    mine = (await client.get(url, params=q(), headers=manager)).json()
    assert mine["total"]["sales"] == 1359200
    assert mine["scope"]["store_ids"] == [str(november.store_id)]
    theirs = await client.get(url, params=q(), headers=bearer(await token_for(conn, "BJ02M", settings.secret_key)))
    assert theirs.json()["total"]["sales"] == 2000
    assert [r["key"] for r in theirs.json()["rows"]] == ["misc"]
    # Admins: the chain, or one store.
    chain = (await client.get(url, params=q(), headers=admin)).json()
    assert chain["total"]["sales"] == 1359200 + 2000
    one = (await client.get(url, params=q(store_id=str(other.store_id)), headers=admin)).json()
    assert one["total"]["sales"] == 2000
    # Another store's counter cannot be given a commission by this manager.
    r = await client.put(f"/api/admin/analytics/commissions/{other.counter_id}", json={"rate_bp": 100}, headers=manager)
    assert r.status_code == 404
    # Members' personal data: masked for managers, whole for admins.
    members = (await client.get("/api/admin/reports/rfm", params=q(), headers=admin)).json()
    assert "赵敏 Zhao Min 13900000001" in [r["name"] for r in members["rows"]]


@pytest.mark.parametrize("path", ["/rfm/segments", "/customer-states/summary", "/categories", "/member-potential"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "0001-01-01"}, "to"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "from"),
        ({"from": "1969-12-31"}, "from"),
    ],
)
async def test_dates_out_of_range_are_refused_with_the_field_not_a_server_error(
    client: AsyncTestClient[Any], manager: dict[str, str], path: str, params: dict[str, str], field: str
) -> None:
    r = await client.get("/api/admin/reports" + path, params=params, headers=manager)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "bad_period"
    assert body["details"]["field"] == field
    assert "1970-01-01" in body["message"]


async def test_the_api_document_describes_the_report_bodies(client: AsyncTestClient[Any]) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    for path in ("/api/admin/reports/rfm", "/api/admin/reports/categories", "/api/admin/reports/concessions"):
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        assert content["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
    # Every report (and the segment export) answers CSV too, and says so.
    answers = {p: item.get("get", {}).get("responses", {}).get("200", {}) for p, item in doc["paths"].items()}
    csv_routes = {p for p, ok in answers.items() if "text/csv" in ok.get("content", {})}
    assert {"/api/admin/reports" + p for p, _ in REPORTS} | {"/api/admin/segments/{segment_id}/members"} == csv_routes
    ok = doc["paths"]["/api/admin/reports/rfm"]["get"]["responses"]["200"]
    assert ok["content"]["text/csv"]["schema"]["type"] == "string"
    assert "Content-Disposition" in ok["headers"]
    assert "/api/admin/segments/preview" in doc["paths"]
    assert "/api/tasks/mine" in doc["paths"]
