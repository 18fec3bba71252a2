"""The checkout tests' shop (demo store, handhelds, a till with an open shift), payment fixtures, and the
app through an in-process client."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.checkout.config import CheckoutConfig
from server.settings import Settings
from tests.server.checkout.conftest import Shop, pay, pool, shop
from tests.server.payments.conftest import FAST

__all__ = ["api", "pay", "pool", "shop"]


@pytest.fixture
async def api(db_dsn: str, settings: Settings, shop: Shop) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings, dsn=db_dsn)
    app.state.payments_config = FAST
    app.state.checkout_config = CheckoutConfig(refund_approval_limit=10**10)
    async with AsyncTestClient(app=app) as c:
        yield c
