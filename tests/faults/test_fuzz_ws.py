"""Malformed frames on the real ``/ws`` endpoint of a server process: each gets an error frame, never a
crash; after the handshake the connection survives them, and the server keeps serving."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from protocol import PROTOCOL_VERSION
from protocol.ticket_codes import CloseCodes
from server.demo import seed_demo
from tests.faults.servers import ServerProcess
from tests.pg import Cluster
from tests.ticket_helpers import device

pytestmark = [pytest.mark.fault, pytest.mark.timeout(60)]

TAGS = ["hello", "submit", "ack", "ping", "pong", "event", "welcome", "results", "error", "", "HELLO"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20), st.uuids().map(str)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
# Frames that look like ours (a known or unknown tag, random fields), and plain garbage.
lookalikes = st.builds(
    lambda tag, fields: json.dumps({"type": tag, **fields}),
    st.sampled_from(TAGS),
    st.dictionaries(
        st.sampled_from(["commands", "position", "nonce", "device_token", "protocol_version", "last_position", "x"]),
        json_values,
        max_size=4,
    ),
)
frames = st.one_of(
    lookalikes,
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
    lookalikes.map(lambda s: s.encode()[: len(s) // 2]),  # cut short
)

STATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
async def ws_server(cluster: Cluster) -> AsyncIterator[ServerProcess]:
    async with cluster.database() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await seed_demo(conn)
            STATE["token"] = (await device(conn, "Handheld Apple 1"))[1]
        finally:
            await conn.close()
        server = await ServerProcess(dsn).start()
        try:
            yield server
        finally:
            server.stop()


def _hello(ws: ClientConnection) -> None:
    hello = {"type": "hello", "protocol_version": PROTOCOL_VERSION, "device_token": STATE["token"], "last_position": 0}
    ws.send(json.dumps(hello))
    kinds = []
    while "caught_up" not in kinds:
        kinds.append(json.loads(ws.recv(timeout=10))["type"])
    assert kinds[0] == "welcome"


def test_malformed_frames_after_hello_get_error_frames_and_the_connection_survives(ws_server: ServerProcess) -> None:
    with connect(ws_server.ws_url, open_timeout=10) as ws:
        _hello(ws)
        nonce = iter(range(1, 1_000_000))

        @given(frame=frames)
        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def survives(frame: str | bytes) -> None:
            ws.send(frame)
            n = next(nonce)
            ws.send(json.dumps({"type": "ping", "nonce": n}))
            # Everything before our Pong answers the fuzzed frame: error frames, or a Pong it asked for.
            while True:
                reply = json.loads(ws.recv(timeout=10))
                if reply == {"type": "pong", "nonce": n}:
                    return
                assert reply["type"] in ("error", "pong", "results"), reply
                if reply["type"] == "error":
                    assert reply["error"]["code"]
                    assert reply["error"]["message"]

        survives()


@given(frame=frames.filter(lambda f: not (isinstance(f, str) and '"hello"' in f)))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_a_malformed_first_frame_gets_an_error_frame_and_a_clean_close(ws_server: ServerProcess, frame: Any) -> None:
    with connect(ws_server.ws_url, open_timeout=10) as ws:
        ws.send(frame)
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "error"
        with pytest.raises(Exception):  # noqa: B017 - the close, whatever class the library gives it
            ws.recv(timeout=10)
        assert ws.close_code == CloseCodes.HELLO_EXPECTED


def test_the_server_still_serves_after_the_fuzzing(ws_server: ServerProcess) -> None:
    assert ws_server.alive
    assert httpx.get(ws_server.base + "/health", timeout=5).status_code == 200
    with connect(ws_server.ws_url, open_timeout=10) as ws:
        _hello(ws)
