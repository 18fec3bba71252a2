"""Build the handheld's ``Services`` from the real client pieces: the SQLite store (outbox, catalog,
tickets), the HTTP API (enroll, sign-in, members, catalog pages, till keys), the device keys that sign
ticket QR codes, and the websocket transport that runs the sans-IO sync core on the app's asyncio loop.

Each adapter in ``handheld_app.adapters`` turns one of those pieces into the small port a presenter
needs. Nothing here imports Kivy, so tests and tools run the same wiring without a window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client_common.adapters.identity import Device, Enrollment
from client_common.adapters.staff import StaffAuth
from client_common.adapters.sync import KeyDirectory
from client_common.connection import ConnectionFeed
from client_common.presenters.ports import StaffSession
from client_common.store import DeviceStore
from handheld_app.adapters.book import StoreTicketBook
from handheld_app.adapters.catalog import StoreCatalog
from handheld_app.adapters.members import ServerMembers
from handheld_app.adapters.one_stop import ServerOneStop
from handheld_app.adapters.sync import Sync, till_keys
from handheld_app.presenters.ports import PaidReceipt
from handheld_app.receipts import SignedReceipts
from handheld_app.services import Services


class StoreReceipts:
    """``ReceiptVerifier``: a till's signature checked against the till keys cached on the device."""

    def __init__(self, device: Device, keys: KeyDirectory) -> None:
        self._device = device
        self._keys = keys

    def verify(self, receipt_qr: str) -> PaidReceipt:
        identity = self._device.identity
        if identity is None:
            raise ValueError("This handheld is not enrolled.")
        return SignedReceipts(identity.store_id, self._keys).verify(receipt_qr)


@dataclass
class Handheld:
    """The services plus the concrete pieces behind them (tests and tools reach for these)."""

    services: Services
    device: Device
    store: DeviceStore
    book: StoreTicketBook
    auth: StaffAuth
    sync: Sync

    def close(self) -> None:
        self.store.close()


def build(data_dir: str | Path, **sync_options: Any) -> Handheld:
    """Everything a handheld keeping its data in ``data_dir`` needs; ``sync_options`` go to ``Sync``
    (backoff, catalog_every, ping settings) for tests and tools."""
    data_dir = Path(data_dir)
    store = DeviceStore(data_dir)
    device = Device(data_dir, store)
    auth = StaffAuth(device)
    members = ServerMembers(auth)
    book = StoreTicketBook(device, member_names=lambda member_id: members.names.get(member_id, ""))
    feed = ConnectionFeed()
    tills = till_keys(store)
    sync = Sync(device, book, feed, tills, **sync_options)

    async def start_sync(_session: StaffSession | None) -> None:
        await sync.start()  # the device token is enough; staff sessions are not needed to sync

    async def stop_sync() -> None:
        await sync.stop()
        auth.sign_out()

    services = Services(
        data_dir=data_dir,
        enroller=Enrollment(device, "handheld"),
        auth=auth,
        catalog=StoreCatalog(store),
        members=members,
        book=book,
        verifier=StoreReceipts(device, tills),
        connection=feed,
        start_sync=start_sync,
        stop_sync=stop_sync,
        sign_out_staff=auth.sign_out,
        one_stop=ServerOneStop(device),
    )
    return Handheld(services=services, device=device, store=store, book=book, auth=auth, sync=sync)


def build_services(data_dir: str | Path) -> Services:
    """The real services for a handheld keeping its data in ``data_dir``."""
    return build(data_dir).services
