"""A simulated handheld or till: the real device store (SQLite), sync core and websocket transport, run as
tasks on the test's event loop, plus the check that its view of the store equals the database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from client_common.store import DeviceStore
from client_common.transport import Backoff, Transport
from protocol.qr import sign_ticket
from protocol.tickets import AnyCommand, IssueTicket, TicketEvent
from tests.faults.servers import HEAD
from tests.ticket_helpers import Catalog, draft


async def until(check: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
    assert check(), what


@dataclass
class Device:
    name: str
    device_id: uuid.UUID
    token: str
    cat: Catalog
    store: DeviceStore
    url: str
    ping_interval: float = 0.5
    ping_timeout: float = 1.0
    seed: bytes | None = None  # the Ed25519 signing seed of its ticket QRs, once it has a key
    transport: Transport = field(init=False)
    events: list[TicketEvent] = field(default_factory=list)
    sent: list[AnyCommand] = field(default_factory=list)

    @classmethod
    def open(
        cls, data_dir: Path, name: str, device_id: uuid.UUID, token: str, cat: Catalog, url: str, **kw: float
    ) -> Device:
        return cls(name, device_id, token, cat, DeviceStore(data_dir / name), url, **kw)

    def __post_init__(self) -> None:
        self.transport = self._transport()

    def _transport(self) -> Transport:
        return Transport(
            self.url,
            self.store.sync_client(self.token),
            store=self.store,
            on_event=self.events.append,
            backoff=Backoff(base=0.05, cap=0.5),
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            open_timeout=1.0,
            close_timeout=0.5,
        )

    def start(self) -> None:
        self.transport.start()

    async def stop(self) -> None:
        await self.transport.stop()

    async def restart_app(self) -> None:
        """The app is closed and opened again: a new sync core restored from the device store."""
        await self.transport.stop()
        self.transport = self._transport()
        self.transport.start()

    def issue(self, made_at_ms: int = 0, member_id: uuid.UUID | None = None, lines: int = 2) -> IssueTicket:
        ticket = draft(self.cat, device_id=self.device_id, member_id=member_id, lines=lines)
        command = self.store.issue(ticket, device_id=self.device_id, made_at_ms=made_at_ms)
        self.sent.append(command)
        self.transport.submit(command)
        return command

    def qr(self, command: IssueTicket) -> str:
        """The signed QR the customer carries away (the handheld shows it as the ticket is issued)."""
        assert self.seed is not None, "give the handheld a key first"
        return sign_ticket(command, self.device_id, self.seed)

    def submit(self, make: Callable[[int], AnyCommand]) -> AnyCommand:
        command = self.store.add_command(make)
        self.sent.append(command)
        self.transport.submit(command)
        return command

    @property
    def idle(self) -> bool:
        return self.transport.status.online and self.store.outbox_count() == 0

    def view(self) -> dict[uuid.UUID, str]:
        return {t.id: t.state for t in self.store.confirmed_tickets()}

    def positions_in_order(self) -> bool:
        """Every event applied exactly once, in position order, none skipped."""
        return [e.position for e in self.events] == list(range(1, len(self.events) + 1))


async def database_view(conn: asyncpg.Connection, store_id: uuid.UUID) -> tuple[dict[uuid.UUID, str], int]:
    rows = await conn.fetch("SELECT id, state FROM ticket WHERE store_id = $1", store_id)
    head = await conn.fetchval(HEAD, store_id)
    return {r["id"]: r["state"] for r in rows}, int(head)


async def settle(devices: list[Device], conn: asyncpg.Connection, store_id: uuid.UUID, timeout: float = 20) -> int:
    """Wait until every device has sent everything and holds the store's whole log; return the head."""
    _, head = await database_view(conn, store_id)
    async with asyncio.timeout(timeout):
        while True:
            _, head = await database_view(conn, store_id)
            if all(d.idle and d.store.position == head for d in devices):
                return head
            await asyncio.sleep(0.05)
