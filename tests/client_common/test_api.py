"""The HTTP client: catalog pages with progress and resume, batch upload, errors a screen can show."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import httpx
import msgspec
import pytest

from client_common.api import NETWORK_UNAVAILABLE, Api, ApiError
from client_common.store import DeviceStore
from protocol.catalog_sync import CatalogItem, CatalogPage
from protocol.codec import encode
from protocol.errors import ErrorBody
from protocol.tickets import CommandBatch
from tests.client_common.issue_forever import DEVICE, STORE, draft
from tests.protocol.sync_model import ModelServer

ITEMS = [
    CatalogItem(
        id=uuid.UUID(int=i + 1),
        sku=f"S{i:04d}",
        name_zh=f"商品{i}",
        name_en=f"Item {i}",
        counter_id=STORE,
        list_price=100 + i,
    )
    for i in range(25)
]


class CatalogServer:
    """Serves ITEMS in pages keyed by an opaque cursor; refuses a request without the device token."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.fail_after = fail_after

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != "Device tok":
            return httpx.Response(401, content=encode(ErrorBody(code="unauthenticated", message="Enroll first.")))
        if self.fail_after is not None and len(self.requests) > self.fail_after:
            raise httpx.ConnectError("wifi gone")
        start = int(request.url.params.get("since", "0"))
        limit = int(request.url.params["limit"])
        items = ITEMS[start : start + limit]
        end = start + len(items)
        page = CatalogPage(
            items=items, next_cursor=str(end), more=end < len(ITEMS), total=len(ITEMS), remaining=len(ITEMS) - start
        )
        return httpx.Response(200, content=encode(page))


async def test_catalog_loads_in_pages_with_progress_and_resumes_after_a_network_drop(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path)
    flaky = CatalogServer(fail_after=2)
    api = Api("http://server", device_token="tok", transport=httpx.MockTransport(flaky))
    seen: list[tuple[int, int]] = []
    with pytest.raises(ApiError) as failure:
        await api.load_catalog(store, lambda done, total: seen.append((done, total)), limit=10)
    assert failure.value.code == NETWORK_UNAVAILABLE
    assert seen == [(10, 25), (20, 25)]
    assert store.catalog_count() == 20

    steady = CatalogServer()
    api = Api("http://server", device_token="tok", transport=httpx.MockTransport(steady))
    seen.clear()
    assert await api.load_catalog(store, lambda done, total: seen.append((done, total)), limit=10) == 5
    assert steady.requests[0].url.params["since"] == "20"  # resumed, not restarted
    assert seen == [(5, 5)]
    assert store.catalog_count() == 25
    assert store.find_product("S0024") == ITEMS[24]
    assert await api.load_catalog(store, limit=10) == 0  # deltas: nothing new


async def test_a_refusal_carries_the_servers_code_and_sentence() -> None:
    api = Api("http://server", device_token="wrong", transport=httpx.MockTransport(CatalogServer()))
    with pytest.raises(ApiError) as refused:
        await api.catalog_page(None)
    assert (refused.value.status, refused.value.code, refused.value.body.message) == (
        401,
        "unauthenticated",
        "Enroll first.",
    )


async def test_enrollment_sends_the_public_key_and_keeps_the_token() -> None:
    sent: list[dict[str, str]] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(msgspec.json.decode(request.content))
        return httpx.Response(200, json={"device_id": str(DEVICE), "device_token": "fresh"})

    api = Api("http://server", transport=httpx.MockTransport(server))
    enrolled = await api.enroll(" 123456 ", b"\x01" * 32)
    assert sent == [{"code": "123456", "public_key": base64.b64encode(b"\x01" * 32).decode()}]
    assert enrolled["device_token"] == api.device_token == "fresh"


async def test_an_offline_outbox_uploads_in_one_batch_and_a_retry_is_a_replay(tmp_path: Path) -> None:
    model = ModelServer()
    model.enroll("tok", DEVICE, STORE)

    def server(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Device ")
        batch = msgspec.json.decode(request.content, type=CommandBatch)
        return httpx.Response(200, content=encode(model.upload(token, batch)))

    store = DeviceStore(tmp_path)
    for i in range(300):
        store.issue(draft(), device_id=DEVICE, made_at_ms=i)
    core = store.sync_client("tok")
    api = Api("http://server", device_token="tok", transport=httpx.MockTransport(server))
    batch = core.batch(limit=1000)
    first = await api.upload(batch)
    again = await api.upload(batch)  # the answer was lost: send the same batch again
    assert {r.status for r in first.results} == {"applied"}
    assert {r.status for r in again.results} == {"replayed"}
    assert again.last_applied_seq == 300
    core.batch_answered(again)
    for out in core.outputs():
        store.persist(out)
    assert store.outbox_count() == 0
    assert sum(model.effects.values()) == 300


async def test_progress_follows_each_pages_figure_when_the_catalog_grows_during_the_load(tmp_path: Path) -> None:
    """The server's figures grow when products change during a download; the bar follows them."""
    figures = [(12, 5, True), (7, 5, True), (6, 5, True), (2, 2, False)]  # (remaining, items, more)

    def serve(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("since", "0"))
        remaining, count, more = figures[n]
        page = CatalogPage(
            items=ITEMS[n * 5 : n * 5 + count], next_cursor=str(n + 1), more=more, total=12, remaining=remaining
        )
        return httpx.Response(200, content=encode(page))

    api = Api("http://server", device_token="tok", transport=httpx.MockTransport(serve))
    seen: list[tuple[int, int]] = []
    assert await api.load_catalog(DeviceStore(tmp_path), lambda done, total: seen.append((done, total))) == 17
    assert seen == [(5, 12), (10, 12), (15, 16), (17, 17)]
