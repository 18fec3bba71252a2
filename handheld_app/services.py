"""Everything the handheld's screens need, behind the presenters' ports. ``wiring.py`` builds the real
set; tests build one from fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from client_common.connection import ConnectionFeed
from client_common.presenters.ports import Authenticator, EnrolledDevice, Enroller, StaffSession
from handheld_app.presenters.ports import Catalog, DeviceContext, Members, OneStop, ReceiptVerifier, TicketBook


async def _nothing(_session: StaffSession | None) -> None:
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
    # Start syncing (websocket, outbox, catalog) as soon as the device is enrolled: an outbox left
    # from an earlier session must not wait for someone to sign in. ``None`` when nobody is signed in.
    start_sync: Callable[[StaffSession | None], Awaitable[None]] = _nothing
    # Stop syncing and end the staff session (the app closing, tests).
    stop_sync: Callable[[], Awaitable[None]] = lambda: _nothing(None)
    # End the staff session; the device goes on syncing.
    sign_out_staff: Callable[[], None] = lambda: None
    # One-stop card payment on the handheld; None hides it.
    one_stop: OneStop | None = None

    @property
    def prefs_path(self) -> Path:
        return self.data_dir / "prefs.json"


def device_context(device: EnrolledDevice) -> DeviceContext:
    if device.counter_id is None:
        raise ValueError("this handheld was enrolled without a counter; ask a manager to enroll it for a counter")
    return DeviceContext(device_id=device.device_id, store_id=device.store_id, counter_id=device.counter_id)
