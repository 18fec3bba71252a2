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

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]

TOKENS: dict[str, str] = {}
MAX_EXAMPLES = 15
REQUEST_TIMEOUT_S = 10  # one hung request fails the run at once, not at the test's time limit
REPORTS = "/api/admin/reports"  # JSON or CSV (?format=csv): both documented, both checked
EXCLUDED = [positive_data_acceptance]
# Every check but "schema-valid data is accepted": the document cannot say business rules (totals add up,
# a PIN or a password), and those refusals are documented 400s.


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
    csv_answers: list[str] = []
    operations = reports = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        reports += operation.path.startswith(REPORTS)
        try:
            fuzz(operation, csv_answers)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {exc}")
    assert operations > 50
    assert reports >= 11, "every report route is fuzzed"
    assert not failures, "\n\n".join(failures)
    assert len(csv_answers) >= reports, "the reports answered CSV and it was checked"
    assert all("text/csv; charset=utf-8" in c for c in csv_answers), set(csv_answers)


def fuzz(operation: Any, csv_answers: list[str]) -> None:
    """Generated requests for one operation, every answer checked; a route that also answers CSV gets each
    request a second time asking for CSV, and that answer is held to the document too."""
    ok = operation.definition.raw.get("responses", {}).get("200", {})
    answers_csv = "text/csv" in ok.get("content", {})

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        case.call_and_validate(excluded_checks=EXCLUDED, timeout=REQUEST_TIMEOUT_S)
        if answers_csv:
            case.query = {**(case.query or {}), "format": "csv"}
            response = case.call(timeout=REQUEST_TIMEOUT_S)
            case.validate_response(response, excluded_checks=EXCLUDED)
            if response.status_code == 200:
                csv_answers.append(str(response.headers.get("content-type")))

    check()
