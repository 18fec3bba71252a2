from tests.live_server import live  # noqa: F401  (the real server fixture)
