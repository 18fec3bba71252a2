"""The reports' known month of sales, for the reports page's tests."""

from tests.server.reports.conftest import november  # noqa: F401 (a fixture)
