"""Schemathesis against the OpenAPI document a real server process serves, with every check: no server
errors, responses (errors included) match the document, authentication is never ignored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from server.demo import seed_demo
from tests.auth_helpers import token_for
from tests.faults.servers import SECRET, ServerProcess
from tests.pg import Cluster
from tests.ticket_helpers import device

pytestmark = [pytest.mark.fault]

TOKENS: dict[str, str] = {}
MAX_EXAMPLES = 15
# Known defect: the report endpoints answer JSON or CSV as raw bytes, which the document shows as a
# string; they need their JSON bodies documented (responses=) before they can join this test.
UNDOCUMENTED_BODIES = ("/api/admin/reports",)


@pytest.fixture(scope="module")
async def fuzz_server(cluster: Cluster) -> AsyncIterator[ServerProcess]:
    async with cluster.database() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await seed_demo(conn)
            TOKENS["staff"] = "Bearer " + await token_for(conn, "M001", SECRET)
            TOKENS["device"] = "Device " + (await device(conn, "Handheld Apple 1"))[1]
        finally:
            await conn.close()
        server = await ServerProcess(dsn).start()
        try:
            yield server
        finally:
            server.stop()


class Tokens:
    """A manager's token for staff routes, an enrolled handheld's for device routes."""

    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        return TOKENS

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        security = case.operation.definition.raw.get("security") or []
        kinds = {name for requirement in security for name in requirement}
        if not kinds:
            return
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = data["staff"] if "staff" in kinds else data["device"]


def test_the_served_api_holds_to_its_document(fuzz_server: ServerProcess) -> None:
    schema = schemathesis.openapi.from_url(fuzz_server.base + "/schema/openapi.json")
    schema.auth()(Tokens)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith(UNDOCUMENTED_BODIES):
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            # Every check but "schema-valid data is accepted": the document cannot say business rules
            # (totals add up, a PIN or a password), and those refusals are documented 400s.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    assert operations > 50
    assert not failures, "\n\n".join(failures)
