from __future__ import annotations

from collections.abc import Iterator

import pytest

from client_common.i18n import translator
from tests.live_server import live  # noqa: F401  (the real server fixture)


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Presenter tests read English text unless they switch; the switch never leaks between tests."""
    translator.set_language("en")
    yield
    translator.set_language("en")
