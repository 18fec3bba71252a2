"""Everything the handheld's screens need, behind the presenters' ports. ``wiring.py`` builds the real
set; tests build one from fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from client_common.connection import ConnectionFeed
from client_common.presenters.ports import Authenticator, EnrolledDevice, Enroller, StaffSession
from handheld_app.presenters.ports import Catalog, DeviceContext, Members, OneStop, ReceiptVerifier, TicketBook


async def _nothing(_session: StaffSession) -> None:
    return None


@dataclass
class Services:
    data_dir: Path
    enroller: Enroller
    auth: Authenticator
    catalog: Catalog
    members: Members
    book: TicketBook
    verifier: ReceiptVerifier
    connection: ConnectionFeed = field(default_factory=ConnectionFeed)
    # Start syncing (websocket, outbox, catalog) once someone is signed in; stop on sign-out.
    start_sync: Callable[[StaffSession], Awaitable[None]] = _nothing
    stop_sync: Callable[[], Awaitable[None]] = lambda: _nothing(None)  # type: ignore[arg-type]
    # One-stop card payment on the handheld; None hides it.
    one_stop: OneStop | None = None

    @property
    def prefs_path(self) -> Path:
        return self.data_dir / "prefs.json"


def device_context(device: EnrolledDevice) -> DeviceContext:
    if device.counter_id is None:
        raise ValueError("this handheld was enrolled without a counter; ask a manager to enroll it for a counter")
    return DeviceContext(device_id=device.device_id, store_id=device.store_id, counter_id=device.counter_id)
