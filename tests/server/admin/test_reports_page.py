"""The reports page: one entry per report the server has, and every column its tables show is a
field the report's rows carry (checked on a known month of sales)."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from server.admin import pages
from server.settings import Settings
from tests.auth_helpers import bearer, token_for
from tests.server.admin.js_calls import table_fields
from tests.server.reports.conftest import PERIOD, November


def test_the_page_has_a_table_for_every_report() -> None:
    fields = table_fields(pages.STATIC_DIR / "reports.js")
    assert set(fields) == {f"/api/admin/reports/{r}" for r in pages.REPORTS}


async def test_every_column_is_a_field_of_the_rows(
    client: AsyncTestClient[Any],
    conn: asyncpg.Connection,
    november: November,
    settings: Settings,
) -> None:
    manager = bearer(await token_for(conn, "M001", settings.secret_key))
    for path, columns in table_fields(pages.STATIC_DIR / "reports.js").items():
        r = await client.get(path, params=PERIOD, headers=manager)
        assert r.status_code == 200, (path, r.text)
        rows = r.json()["rows"]
        assert rows, path
        for row in rows:
            assert set(columns) <= set(row), (path, set(columns) - set(row))
        csv = await client.get(path, params=PERIOD | {"format": "csv"}, headers=manager)
        assert csv.status_code == 200, path
        assert csv.headers["content-type"].startswith("text/csv"), path
