"""Everything the till's screens need, behind the presenters' ports. ``wiring.py`` builds the real
set; tests build one from fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from cashier_app.presenters.exceptions import ExceptionQueue
from cashier_app.presenters.ports import (
    Allowances,
    Checkouts,
    Customers,
    PaymentTerminal,
    Refunds,
    Shifts,
    TicketEvents,
    TicketQrReader,
    TillContext,
    TopUps,
)
from client_common.connection import ConnectionFeed
from client_common.presenters.ports import Authenticator, EnrolledDevice, Enroller, StaffSession
from protocol.payments import ShiftReport


async def _nothing(_session: StaffSession | None = None) -> None:
    return None


def default_till(device: EnrolledDevice) -> TillContext:
    return TillContext(device_id=device.device_id, store_id=device.store_id)


@dataclass
class Services:
    data_dir: Path
    enroller: Enroller
    auth: Authenticator
    reader: TicketQrReader
    customers: Customers
    events: TicketEvents
    terminal: PaymentTerminal
    checkouts: Checkouts
    refunds: Refunds
    shifts: Shifts
    top_ups: TopUps
    connection: ConnectionFeed = field(default_factory=ConnectionFeed)
    till: Callable[[EnrolledDevice], TillContext] = default_till
    # Start syncing (websocket, outbox, ticket events) once someone is signed in; stop on sign-out.
    start_sync: Callable[[StaffSession], Awaitable[None]] = _nothing
    stop_sync: Callable[[], Awaitable[None]] = _nothing
    # The store's exception queue for a supervisor at the till (no screen for it when None).
    exceptions: ExceptionQueue | None = None
    # Prints an X or Z report on the receipt printer; None when the till has no printer.
    print_report: Callable[[ShiftReport], None] | None = None
    # The offline spending allowances this till holds (reserving one online, spending it offline).
    allowances: Allowances | None = None

    @property
    def prefs_path(self) -> Path:
        return self.data_dir / "prefs.json"
