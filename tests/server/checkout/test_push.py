"""*Paid* reaches the issuing handhelds and the till over real websockets when a checkout settles."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import uvicorn
import websockets

from protocol import PROTOCOL_VERSION
from protocol.codec import encode
from protocol.messages import Hello
from server import events
from server.app import create_app
from server.settings import Settings
from tests.auth_helpers import activate_device, bearer, token_for
from tests.server.checkout.conftest import Shop, checkout, tender
from tests.server.payments.conftest import FAST


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server_url(db_dsn: str, settings: Settings, shop: Shop) -> AsyncIterator[str]:
    app = create_app(settings, dsn=db_dsn)
    app.state.payments_config = FAST
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def listen(url: str, token: str, position: int, ready: asyncio.Event, seen: list[dict[str, Any]]) -> None:
    async with websockets.connect(f"ws://{url}/ws") as ws:
        await ws.send(encode(Hello(protocol_version=PROTOCOL_VERSION, device_token=token, last_position=position)))
        while True:
            frame = msgspec.json.decode(await ws.recv())
            if frame["type"] == "caught_up":
                ready.set()
            if frame["type"] == "event":
                seen.append(frame["event"])
                if frame["event"]["kind"] == "ticket_paid":
                    return


async def test_paid_is_pushed_to_the_issuing_handhelds_and_the_till(
    server_url: str, conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    a = await shop.issue(conn, "apple")
    position = await events.head(conn, shop.store_id)
    tokens = [(await activate_device(conn, label))[1] for label in ("Handheld Apple 1", "Till 1")]
    ready = [asyncio.Event() for _ in tokens]
    seen: list[list[dict[str, Any]]] = [[] for _ in tokens]
    listeners = [
        asyncio.create_task(listen(server_url, tok, position, ev, out))
        for tok, ev, out in zip(tokens, ready, seen, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in ready)), 5)
    headers = bearer(await token_for(conn, "C001", settings.secret_key, device_id=shop.till.device_id))
    async with httpx.AsyncClient(base_url=f"http://{server_url}") as http:
        r = await http.post(
            "/checkouts", json=msgspec.to_builtins(checkout([a], tender("cash", a.total))), headers=headers
        )
    assert r.status_code == 200, r.text
    await asyncio.wait_for(asyncio.gather(*listeners), 5)
    for events_seen in seen:
        paid = [e for e in events_seen if e["kind"] == "ticket_paid"]
        assert [e["ticket"]["id"] for e in paid] == [str(a.id)]
        assert paid[0]["ticket"]["state"] == "paid"
        assert paid[0]["ticket"]["checkout_id"] == r.json()["id"]
