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
from protocol.ids import new_id
from protocol.messages import Hello
from protocol.tickets import CommandBatch, ReleaseTicket, Ticket
from server import events
from server.app import create_app
from server.settings import Settings
from tests.auth_helpers import activate_device, bearer, token_for
from tests.server.checkout.conftest import Shop, checkout, tender
from tests.server.payments.conftest import FAST
from tests.ticket_helpers import draft, issue


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


async def next_event(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        frame = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 5))
        if frame["type"] == "event" and frame["event"]["kind"] == kind:
            event: dict[str, Any] = frame["event"]
            return event


async def test_scenario_handheld_issues_till_settles_handheld_sees_paid_and_releases(
    server_url: str, conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    _, hh_token = await activate_device(conn, "Handheld Apple 1")
    _, till_token = await activate_device(conn, "Till 1")
    handheld = {"Authorization": f"Device {hh_token}"}
    cashier = bearer(await token_for(conn, "C001", settings.secret_key, device_id=shop.till.device_id))
    member = shop.members["QR-ZM-0001"]
    d = draft(shop.apple, lines=2, member_id=member, number="SH01-C-APL-H1-900001")
    start = await events.head(conn, shop.store_id)
    async with (
        websockets.connect(f"ws://{server_url}/ws") as hh_ws,
        websockets.connect(f"ws://{server_url}/ws") as till_ws,
        httpx.AsyncClient(base_url=f"http://{server_url}") as http,
    ):
        for ws, token in ((hh_ws, hh_token), (till_ws, till_token)):
            await ws.send(encode(Hello(protocol_version=PROTOCOL_VERSION, device_token=token, last_position=start)))
        # 1. the handheld issues the ticket; the till sees it arrive
        r = await http.post(
            "/sync/commands", json=msgspec.to_builtins(CommandBatch(commands=[issue(d, 1)])), headers=handheld
        )
        assert r.json()["results"][0]["status"] == "applied", r.text
        assert (await next_event(till_ws, "ticket_issued"))["ticket"]["id"] == str(d.id)
        # 2. the till scans the member, settles with stored value and cash
        found = (
            await http.get("/checkouts/open-tickets", params={"member_code": "QR-ZM-0001"}, headers=cashier)
        ).json()
        assert [t["id"] for t in found["tickets"]] == [str(d.id)]
        req = checkout(
            [msgspec.convert(found["tickets"][0], Ticket)],
            tender("stored_value", 10_000),
            tender("cash", d.total - 10_000 + 500),
            member_id=member,
        )
        r = await http.post("/checkouts", json=msgspec.to_builtins(req), headers=cashier)
        assert r.status_code == 200, r.text
        assert r.json()["change"] == 500
        # 3. the handheld sees paid and releases the goods; the till sees the release
        paid = await next_event(hh_ws, "ticket_paid")
        assert paid["ticket"]["checkout_id"] == str(req.id)
        release = ReleaseTicket(command_id=new_id(), device_seq=2, ticket_id=d.id)
        r = await http.post(
            "/sync/commands", json=msgspec.to_builtins(CommandBatch(commands=[release])), headers=handheld
        )
        assert r.json()["results"][0]["status"] == "applied", r.text
        released = await next_event(till_ws, "ticket_released")
        assert released["ticket"]["state"] == "released"


async def test_refund_states_reach_the_handheld_and_the_till_over_their_websockets(
    server_url: str, conn: asyncpg.Connection, settings: Settings, shop: Shop
) -> None:
    a = await shop.issue(conn, "apple", lines=2)
    cashier = bearer(await token_for(conn, "C001", settings.secret_key, device_id=shop.till.device_id))
    tokens = [(await activate_device(conn, label))[1] for label in ("Handheld Apple 1", "Till 1")]
    async with httpx.AsyncClient(base_url=f"http://{server_url}") as http:
        r = await http.post(
            "/checkouts", json=msgspec.to_builtins(checkout([a], tender("cash", a.total))), headers=cashier
        )
        assert r.status_code == 200, r.text
        checkout_id = r.json()["id"]
        start = await events.head(conn, shop.store_id)
        async with (
            websockets.connect(f"ws://{server_url}/ws") as hh_ws,
            websockets.connect(f"ws://{server_url}/ws") as till_ws,
        ):
            for ws, token in ((hh_ws, tokens[0]), (till_ws, tokens[1])):
                await ws.send(encode(Hello(protocol_version=PROTOCOL_VERSION, device_token=token, last_position=start)))
            for line_no, kind in ((1, "ticket_partly_refunded"), (2, "ticket_refunded")):
                body = {
                    "id": str(new_id()),
                    "checkout_id": checkout_id,
                    "lines": [{"ticket_id": str(a.id), "line_no": line_no, "qty": 1}],
                    "approval": {"staff_code": "V001", "pin": "4444"},
                }
                r = await http.post("/refunds", json=body, headers=cashier)
                assert r.status_code == 200, r.text
                for ws in (hh_ws, till_ws):
                    seen = await next_event(ws, kind)
                    assert (seen["ticket"]["id"], seen["ticket"]["state"]) == (str(a.id), kind.removeprefix("ticket_"))
                    assert msgspec.convert(seen["ticket"], Ticket).state == kind.removeprefix("ticket_")
            again = {"id": str(new_id()), "checkout_id": checkout_id, "ticket_ids": [str(a.id)]}
            r = await http.post("/refunds", json=again, headers=cashier)
            assert r.status_code == 409
            assert r.json()["code"] == "ticket_already_refunded"
