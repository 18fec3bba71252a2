"""The websocket transport against a local server speaking the protocol: live, offline, dropped, refused."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from client_common.store import DeviceStore
from client_common.transport import Backoff, Status, Transport
from protocol.tickets import TicketEvent
from server.db.embedded import free_port
from tests.client_common.issue_forever import DEVICE, draft
from tests.client_common.ws_model import ModelWsServer, running

STORE = uuid.UUID(int=1)


class Watch:
    """Collects status reports and events; ``until`` waits for a condition without sleeping blindly."""

    def __init__(self) -> None:
        self.statuses: list[Status] = []
        self.events: list[TicketEvent] = []
        self.changed = asyncio.Condition()

    def status(self, status: Status) -> None:
        self.statuses.append(status)
        asyncio.get_running_loop().create_task(self._notify())

    def event(self, event: TicketEvent) -> None:
        self.events.append(event)

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, check: Callable[[], bool], timeout: float = 5) -> None:
        """Wake on every status report, and every 20 ms for conditions no report announces."""
        async with asyncio.timeout(timeout):
            while not check():
                async with self.changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.changed.wait(), 0.02)


def enroll(server: ModelWsServer, token: str = "token-0") -> None:
    server.model.enroll(token, DEVICE, STORE)


def make_transport(url: str, store: DeviceStore, watch: Watch, token: str = "token-0") -> Transport:
    return Transport(
        url,
        store.sync_client(token),
        store=store,
        on_status=watch.status,
        on_event=watch.event,
        backoff=Backoff(base=0.01, cap=0.05),
    )


async def test_an_issued_ticket_reaches_the_server_once_and_the_screen_sees_it_applied(tmp_path: Path) -> None:
    server = ModelWsServer()
    enroll(server)
    store, watch = DeviceStore(tmp_path), Watch()
    async with running(server) as url:
        transport = make_transport(url, store, watch)
        transport.start()
        await watch.until(lambda: transport.status.online)
        command = store.issue(draft(), device_id=DEVICE, made_at_ms=1)
        transport.submit(command)
        await watch.until(lambda: bool(watch.events) and transport.status.waiting == 0)
        await transport.stop()
    assert server.model.effects[command.command_id] == 1
    assert watch.events[0].ticket.id == command.ticket.id
    assert store.outbox_count() == 0
    assert store.position == 1
    assert any(s.online and s.waiting == 1 for s in watch.statuses)  # the screen saw it waiting


async def test_tickets_issued_while_the_server_is_down_arrive_once_when_it_comes_back(tmp_path: Path) -> None:
    server = ModelWsServer()
    enroll(server)
    port = free_port()
    store, watch = DeviceStore(tmp_path), Watch()
    transport = make_transport(f"ws://127.0.0.1:{port}/ws", store, watch)
    transport.start()
    commands = [store.issue(draft(), device_id=DEVICE, made_at_ms=i) for i in range(3)]
    for command in commands:
        transport.submit(command)  # returns at once, offline
    await watch.until(lambda: transport.connections >= 2)  # it keeps trying, with backoff
    assert transport.status == Status(online=False, waiting=3, dead_letters=0)
    async with running(server, port):
        await watch.until(lambda: transport.status.online and transport.status.waiting == 0 and len(watch.events) == 3)
    await transport.stop()
    assert [server.model.effects[c.command_id] for c in commands] == [1, 1, 1]
    assert store.outbox_count() == 0


async def test_after_the_server_drops_the_connection_it_reconnects_and_resumes_from_its_position(
    tmp_path: Path,
) -> None:
    server = ModelWsServer()
    enroll(server)
    store, watch = DeviceStore(tmp_path), Watch()
    async with running(server) as url:
        transport = make_transport(url, store, watch)
        transport.start()
        await watch.until(lambda: transport.status.online)
        first = store.issue(draft(), device_id=DEVICE, made_at_ms=1)
        transport.submit(first)
        await watch.until(lambda: len(watch.events) == 1)
        await server.drop_everyone()
        await watch.until(lambda: not transport.status.online)
        server.pay(first.ticket.id)  # happens while the device is away
        await watch.until(lambda: transport.status.online and len(watch.events) == 2)
        second = store.issue(draft(), device_id=DEVICE, made_at_ms=2)
        transport.submit(second)
        await watch.until(lambda: len(watch.events) == 3)
        await transport.stop()
    assert server.hellos == [0, 1]  # the second Hello resumed after what it had stored
    assert [e.position for e in watch.events] == [1, 2, 3]
    assert store.ticket(first.ticket.id).state == "paid"  # type: ignore[union-attr]


async def test_a_refused_device_stops_and_says_so_instead_of_hammering_the_server(tmp_path: Path) -> None:
    server = ModelWsServer()  # nobody enrolled
    store, watch = DeviceStore(tmp_path), Watch()
    async with running(server) as url:
        transport = make_transport(url, store, watch, token="revoked")
        transport.start()
        await watch.until(lambda: transport.status.stopped)
        attempts = transport.connections
        await asyncio.sleep(0.1)  # several backoff periods
        assert transport.connections == attempts == 1
        assert transport.status.problem is not None
        assert transport.status.problem.code == "unauthenticated"
        enroll(server, "revoked")
        transport.resume()
        await watch.until(lambda: transport.status.online)
        await transport.stop()


def test_backoff_grows_exponentially_with_full_jitter_and_resets() -> None:
    draws = iter([1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 0.25])
    backoff = Backoff(base=0.5, cap=3.0, random=lambda: next(draws))
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 1.0, 3.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.125)
