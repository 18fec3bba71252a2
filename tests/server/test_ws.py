"""The websocket stream over real loopback sockets: handshake, catch-up, live, commands, bad input,
heartbeats and slow clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from protocol import PROTOCOL_VERSION
from protocol.codec import encode
from protocol.messages import Error, Hello, Ping, Pong
from protocol.ticket_codes import CloseCodes, StreamCodes
from protocol.tickets import Ack, CaughtUp, EventFrame, Results, Submit
from server import events
from server.demo import DemoInfo
from server.sync.service import apply_commands
from tests.server.test_events import a_ticket
from tests.server.ws_helpers import StalledClient, events_until_caught_up, frame, hello, live_server, next_of
from tests.ticket_helpers import catalog, device, draft, issue


@pytest.fixture
async def shop(conn: asyncpg.Connection, demo: DemoInfo) -> dict[str, Any]:
    hh, hh_token = await device(conn, "Handheld Apple 1")
    till, till_token = await device(conn, "Till 1")
    return {"cat": await catalog(conn), "hh": hh, "till": till, "hh_token": hh_token, "till_token": till_token}


async def test_hello_catch_up_then_live_events_and_commands(
    db_dsn: str, tmp_path: Path, conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    cat = shop["cat"]
    await apply_commands(conn, shop["hh"], [issue(draft(cat), seq) for seq in (1, 2, 3)])
    async with live_server(db_dsn, tmp_path) as (url, app), connect(url) as till, connect(url) as hh:
        welcome = await hello(till, shop["till_token"], last_position=1)
        assert welcome.position == 3
        assert welcome.device_id == shop["till"].device_id
        assert welcome.protocol_version == PROTOCOL_VERSION
        assert await events_until_caught_up(till) == ([2, 3], 3)

        await hello(hh, shop["hh_token"], last_position=3)
        assert await events_until_caught_up(hh) == ([], 3)
        d = draft(cat)
        cmd = issue(d, 4)
        await hh.send(encode(Submit(commands=[cmd])))
        results = await next_of(hh, Results, skip=(Ping, EventFrame))  # its own event may come first
        assert [r.status for r in results.results] == ["applied"]
        assert results.last_applied_seq == 4

        pushed = await next_of(till, EventFrame)  # the till sees the new ticket live
        assert pushed.event.position == 4
        assert pushed.event.kind == "ticket_issued"
        assert pushed.event.ticket.id == d.id

        await hh.send(encode(Submit(commands=[cmd])))  # a resend is a replay, no new event
        replay = await next_of(hh, Results, skip=(Ping, EventFrame))
        assert [r.status for r in replay.results] == ["replayed"]
        await till.send(encode(Ack(position=4)))
        await till.send(encode(Ping(nonce=9)))
        assert (await next_of(till, Pong)).nonce == 9
        await till.close()
        await hh.close()
        for _ in range(100):  # a store with nobody connected is no longer tailed by this process
            if not app.state.hub.feeds:
                break
            await asyncio.sleep(0.02)
        assert not app.state.hub.feeds
    for _ in range(50):
        acked = await conn.fetchval(
            "SELECT acked_position FROM device_sync WHERE device_id = $1", shop["till"].device_id
        )
        if acked == 4:
            break
        await asyncio.sleep(0.05)
    assert acked == 4


async def test_bad_frames_get_an_error_and_the_connection_survives(
    db_dsn: str, tmp_path: Path, shop: dict[str, Any]
) -> None:
    async with live_server(db_dsn, tmp_path, max_frame=4096) as (url, _), connect(url) as ws:
        await hello(ws, shop["till_token"])
        await events_until_caught_up(ws)
        cases: list[tuple[str | bytes, str]] = [
            (b"{not json", "malformed_message"),
            ('{"type": "teleport"}', "unknown_message_type"),
            ('{"type": "ack", "position": "far"}', "validation_failed"),
            (b'{"type": "ping", "pad": "' + b"x" * 5000 + b'"}', StreamCodes.FRAME_TOO_LARGE),
            (encode(Ack(position=99)), StreamCodes.ACK_AHEAD),
            (encode(Hello(protocol_version=PROTOCOL_VERSION, device_token="again")), "bad_request"),
        ]
        for data, code in cases:
            await ws.send(data)
            error = await next_of(ws, Error)
            assert error.error.code == code, data[:40]
        await ws.send(encode(Ping(nonce=1)))
        assert (await next_of(ws, Pong)).nonce == 1


@pytest.mark.parametrize(
    ("first", "code", "close"),
    [
        ("wrong_version", "unsupported_protocol_version", CloseCodes.UNSUPPORTED_VERSION),
        ("bad_token", "unauthenticated", CloseCodes.UNAUTHENTICATED),
        ("revoked", "device_revoked", CloseCodes.UNAUTHENTICATED),
        ("ping_first", StreamCodes.HELLO_EXPECTED, CloseCodes.HELLO_EXPECTED),
        ("garbage_first", "malformed_message", CloseCodes.HELLO_EXPECTED),
    ],
)
async def test_a_refused_hello_gets_an_error_then_a_close_with_reason(
    db_dsn: str, tmp_path: Path, conn: asyncpg.Connection, shop: dict[str, Any], first: str, code: str, close: int
) -> None:
    token = shop["till_token"]
    data: str | bytes = encode(Hello(protocol_version=PROTOCOL_VERSION, device_token=token))
    if first == "wrong_version":
        data = encode(Hello(protocol_version=0, device_token=token))
    elif first == "bad_token":
        data = encode(Hello(protocol_version=PROTOCOL_VERSION, device_token="not-a-token"))
    elif first == "revoked":
        await conn.execute("UPDATE device SET state = 'revoked' WHERE id = $1", shop["till"].device_id)
    elif first == "ping_first":
        data = encode(Ping())
    elif first == "garbage_first":
        data = b"\xff\xfe"
    async with live_server(db_dsn, tmp_path) as (url, _), connect(url) as ws:
        await ws.send(data)
        error = await frame(ws)
        assert isinstance(error, Error)
        assert error.error.code == code
        with pytest.raises(ConnectionClosed) as info:
            await frame(ws)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == close
        assert info.value.rcvd.reason


async def test_a_device_revoked_while_connected_is_refused_on_its_next_command(
    db_dsn: str, tmp_path: Path, conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    async with live_server(db_dsn, tmp_path) as (url, _), connect(url) as ws:
        await hello(ws, shop["hh_token"])
        await events_until_caught_up(ws)
        await conn.execute("UPDATE device SET state = 'revoked' WHERE id = $1", shop["hh"].device_id)
        await ws.send(encode(Submit(commands=[issue(draft(shop["cat"]), 1)])))
        error = await next_of(ws, Error)
        assert error.error.code == "device_revoked"
        with pytest.raises(ConnectionClosed) as info:
            await frame(ws)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == CloseCodes.UNAUTHENTICATED
    assert await conn.fetchval("SELECT count(*) FROM ticket") == 0


async def test_a_position_the_store_never_had_replays_the_log_from_the_start(
    db_dsn: str, tmp_path: Path, conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    await apply_commands(conn, shop["hh"], [issue(draft(shop["cat"]), seq) for seq in (1, 2)])
    async with live_server(db_dsn, tmp_path) as (url, _), connect(url) as ws:
        welcome = await hello(ws, shop["till_token"], last_position=50)
        assert welcome.position == 2
        error = await frame(ws)
        assert isinstance(error, Error)
        assert error.error.code == StreamCodes.POSITION_AHEAD
        assert error.error.details["server_position"] == 2
        assert await events_until_caught_up(ws) == ([1, 2], 2)


async def test_catch_up_hands_over_to_live_without_a_gap_or_a_repeat(
    db_dsn: str, tmp_path: Path, shop: dict[str, Any]
) -> None:
    store = shop["cat"].store_id
    total = 300
    # A small ring and small pages force the catch-up to race the live feed.
    async with live_server(db_dsn, tmp_path, ring=16, page=10) as (url, _):
        writer_conn = await asyncpg.connect(db_dsn)

        async def write() -> None:
            for i in range(total):
                async with writer_conn.transaction():
                    await events.append(writer_conn, store, "ticket_issued", a_ticket(store))
                if i % 25 == 0:
                    await asyncio.sleep(0.01)

        async def till(delay: float) -> list[int]:
            await asyncio.sleep(delay)
            async with connect(url) as ws:
                await hello(ws, shop["till_token"])
                seen: list[int] = []
                while len(seen) < total or (seen and seen[-1] < total):
                    f = await frame(ws, timeout=10)
                    if isinstance(f, EventFrame):
                        seen.append(f.event.position)
                return seen

        try:
            *views, _ = await asyncio.gather(*(till(d) for d in (0.0, 0.05, 0.2, 0.4)), write())
        finally:
            await writer_conn.close()
    for seen in views:
        assert seen == list(range(1, total + 1))


async def test_a_slow_client_is_disconnected_and_never_stalls_the_others(
    db_dsn: str, tmp_path: Path, conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    store = shop["cat"].store_id
    big = draft(shop["cat"], lines=250)  # about 50 KB per event: 10 MB is more than any socket buffer
    ticket = msgspec.structs.replace(a_ticket(store), lines=big.lines, total=big.total)
    total = 200
    async with live_server(db_dsn, tmp_path, queue_size=16, close_timeout=20) as (url, app):
        slow = StalledClient(url)
        await slow.open()
        try:
            slow.send(encode(Hello(protocol_version=PROTOCOL_VERSION, device_token=shop["till_token"])))
            while not isinstance(await slow.frame(), CaughtUp):
                pass
            async with connect(url, max_size=None) as fast:
                await hello(fast, shop["till_token"])
                await events_until_caught_up(fast)
                feed = app.state.hub.feeds[store]
                assert len(feed.clients) == 2
                async with conn.transaction():
                    for _ in range(total):
                        await events.append(conn, store, "ticket_issued", ticket)
                seen = 0
                while seen < total:  # the fast till gets everything while the slow one reads nothing
                    f = await frame(fast, timeout=10)
                    seen += isinstance(f, EventFrame)
                for _ in range(200):
                    if len(feed.clients) == 1:
                        break
                    await asyncio.sleep(0.05)
                assert len(feed.clients) == 1  # the slow one was dropped, the fast one is still served
                code, reason = await slow.close_frame()
                assert code == CloseCodes.TOO_SLOW
                assert "too slow" in reason
        finally:
            slow.abort()


async def test_a_silent_client_is_closed_for_idleness(db_dsn: str, tmp_path: Path, shop: dict[str, Any]) -> None:
    async def until_closed(quiet: Any, lively: Any) -> tuple[int, ConnectionClosed]:
        pings = 0
        while True:
            try:
                pings += isinstance(await frame(quiet, timeout=5), Ping)
            except ConnectionClosed as closed:
                return pings, closed
            lively_frame = await frame(lively, timeout=5)
            if isinstance(lively_frame, Ping):
                await lively.send(encode(Pong(nonce=lively_frame.nonce)))

    server = live_server(db_dsn, tmp_path, ping_interval=0.2, idle_timeout=0.8)
    async with server as (url, _), connect(url) as quiet, connect(url) as lively:
        await hello(quiet, shop["till_token"])
        await hello(lively, shop["till_token"])
        pings, closed = await until_closed(quiet, lively)
        assert pings >= 1  # the server pinged before giving up
        assert closed.rcvd is not None
        assert closed.rcvd.code == CloseCodes.IDLE
        # The one that answers stays connected.
        await lively.send(encode(Ping(nonce=3)))
        assert (await next_of(lively, Pong)).nonce == 3


async def test_submits_sent_back_to_back_are_each_answered_in_order(
    db_dsn: str, tmp_path: Path, conn: asyncpg.Connection, shop: dict[str, Any]
) -> None:
    commands = [issue(draft(shop["cat"]), seq) for seq in range(1, 41)]
    async with live_server(db_dsn, tmp_path) as (url, _), connect(url) as hh:
        await hello(hh, shop["hh_token"])
        await events_until_caught_up(hh)
        for cmd in commands:  # without waiting: the server may apply several in one transaction
            await hh.send(encode(Submit(commands=[cmd])))
        answered = []
        while len(answered) < len(commands):
            results = await next_of(hh, Results, skip=(Ping, EventFrame))
            answered.extend(results.results)
    assert [r.command_id for r in answered] == [c.command_id for c in commands]
    assert {r.status for r in answered} == {"applied"}
    assert await conn.fetchval("SELECT max(position) FROM event_log") == len(commands)
