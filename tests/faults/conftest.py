"""Every fault and simulation test carries the ``fault`` marker and a time limit of its own
(``pytest.mark.timeout``, pytest-timeout), so a hang fails that test within minutes with a stack dump
instead of running into the CI job's limit. A test here without both is refused at collection."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unbounded = [
        item.nodeid
        for item in items
        if item.path.parent == HERE
        and (item.get_closest_marker("fault") is None or item.get_closest_marker("timeout") is None)
    ]
    if unbounded:
        raise pytest.UsageError(
            "fault tests need @pytest.mark.fault and @pytest.mark.timeout(seconds): " + ", ".join(unbounded)
        )
