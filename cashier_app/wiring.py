"""Build the till's ``Services`` from the real client pieces: the SQLite store (ticket events, the key
directory of the store's handhelds, catalog names, the outbox of offline checkouts), the HTTP API with
the signed-in cashier's token (customers, payments, checkouts, refunds, shifts, top-ups), the device
keys that sign receipt QRs, and the websocket transport that runs the sans-IO sync core on the app's
asyncio loop.

The device identity, enrollment, sign-in, catalog loader and sync runner are the handheld's, from
``client_common.adapters``. Nothing here imports Kivy, so tests and tools run the same wiring without a
window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cashier_app.adapters.allowances import TillAllowanceBook
from cashier_app.adapters.checkouts import TillCheckouts
from cashier_app.adapters.events import StoreTicketEvents
from cashier_app.adapters.exceptions import ServerExceptions
from cashier_app.adapters.server import (
    ServerCustomers,
    ServerRefunds,
    ServerShifts,
    ServerTerminal,
    ServerTopUps,
)
from cashier_app.adapters.settings import TillSettingsCache
from cashier_app.adapters.sync import TillSync, handheld_keys
from cashier_app.codes import SignedTicketReader
from cashier_app.printer import ReceiptPrinter, from_env
from cashier_app.services import Services
from cashier_app.shift_report import ReportHeader
from client_common.adapters.identity import Device, Enrollment
from client_common.adapters.staff import StaffAuth
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.presenters.ports import StaffSession
from client_common.store import DeviceStore
from protocol.paper import COLUMNS_58MM
from protocol.payments import ShiftReport


@dataclass
class Till:
    """The services plus the concrete pieces behind them (tests and tools reach for these)."""

    services: Services
    device: Device
    store: DeviceStore
    auth: StaffAuth
    sync: TillSync
    checkouts: TillCheckouts
    customers: ServerCustomers
    settings: TillSettingsCache | None = None
    allowances: TillAllowanceBook | None = None

    def close(self) -> None:
        self.store.close()


def build(
    data_dir: str | Path,
    printer: ReceiptPrinter | None = None,
    points_per_yuan: int | None = None,
    **sync_options: Any,
) -> Till:
    """Everything a till keeping its data in ``data_dir`` needs. ``printer`` defaults to the one
    ``FT_RECEIPT_PRINTER`` names; ``points_per_yuan`` fixes the points value instead of the store's setting
    the server gives; ``sync_options`` go to ``TillSync`` (backoff, flush_every, ping
    settings) for tests and tools."""
    data_dir = Path(data_dir)
    store = DeviceStore(data_dir)
    device = Device(data_dir, store)
    auth = StaffAuth(device)
    keys = handheld_keys(store)
    reader = SignedTicketReader(keys, names=store.names)
    settings = TillSettingsCache(device)
    customers = ServerCustomers(
        auth, device, reader, keys, settings.points_per_yuan if points_per_yuan is None else points_per_yuan
    )
    printer = printer or from_env()
    allowances = TillAllowanceBook(
        device, settings.points_per_yuan if points_per_yuan is None else lambda: points_per_yuan
    )
    checkouts = TillCheckouts(
        auth,
        device,
        keys,
        on_settled=printer or (lambda _settled, _text: None),
        narrow=printer is not None and printer.columns == COLUMNS_58MM,
        allowances=allowances,
    )
    events = StoreTicketEvents(store, names=lambda member_id: customers.names.get(member_id, ""))
    feed = ConnectionFeed()
    sync = TillSync(device, events, checkouts, feed, keys, settings=settings, allowances=allowances, **sync_options)

    async def start_sync(_session: StaffSession) -> None:
        await sync.start()

    async def stop_sync() -> None:
        await sync.stop()
        auth.sign_out()

    def till_id() -> Any:
        identity = device.identity
        return identity.device_id if identity else None

    def print_report(report: ShiftReport) -> None:
        assert printer is not None
        rules, identity, session = settings.current, device.identity, auth.session
        language = translator.language
        store = (rules.store_name_zh if language == "zh" else rules.store_name_en) if rules else ""
        header = ReportHeader(
            store=store or (identity.store_code if identity else ""),
            till=identity.label if identity else "",
            cashier=session.name if session else "",
            timezone=rules.timezone if rules else "",
        )
        printer.print_report(report, language, header)

    services = Services(
        data_dir=data_dir,
        enroller=Enrollment(device, "till"),
        auth=auth,
        reader=reader,
        customers=customers,
        events=events,
        terminal=ServerTerminal(auth),
        checkouts=checkouts,
        refunds=ServerRefunds(auth),
        shifts=ServerShifts(auth),
        top_ups=ServerTopUps(auth, till_id),
        connection=feed,
        start_sync=start_sync,
        stop_sync=stop_sync,
        exceptions=ServerExceptions(auth),
        till=settings.context,
        print_report=print_report if printer is not None else None,
        allowances=allowances,
    )
    return Till(
        services=services,
        device=device,
        store=store,
        auth=auth,
        sync=sync,
        checkouts=checkouts,
        customers=customers,
        settings=settings,
        allowances=allowances,
    )


def build_services(data_dir: str | Path) -> Services:
    """The real services for a till keeping its data in ``data_dir``."""
    return build(data_dir).services
