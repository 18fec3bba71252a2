"""The run command prints the admin address, and that address is the sign-in page this app serves."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from server.__main__ import banner
from server.settings import Settings


async def test_banner_points_at_the_sign_in_page(client: AsyncTestClient[Any], settings: Settings) -> None:
    text = banner(settings, None, embedded=False)
    url = next(w for line in text.splitlines() if "Admin:" in line for w in line.split() if w.startswith("http"))
    base = f"http://{settings.host}:{settings.port}"
    assert url == f"{base}/admin/sign-in"
    r = await client.get(url.removeprefix(base), params={"lang": "en"})
    assert r.status_code == 200
    assert "<h1>Sign in</h1>" in r.text
    assert 'id="sign-in-form"' in r.text
