"""The checkout tests' shop (demo store, handhelds, a till with an open shift) and payment fixtures."""

from tests.server.checkout.conftest import pay, pool, shop

__all__ = ["pay", "pool", "shop"]
