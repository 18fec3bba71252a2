"""Build the till's ``Services`` from the real client pieces: the SQLite store (outbox, ticket events,
key directory, catalog names), the HTTP API (enroll, sign-in, customers, payments, checkout, refunds,
shifts, top-ups), the device keys that sign offline receipts, and the websocket transport that runs
the sans-IO sync core on the app's asyncio loop.

Each adapter turns one of those pieces into the small port a presenter needs
(``cashier_app.presenters.ports``, ``client_common.presenters.ports``). ``cashier_app.codes`` already
holds the two that need no network: the signed ticket QR reader and the offline receipt signer.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from cashier_app.services import Services

REQUIRED = (
    "client_common.store",
    "client_common.api",
    "client_common.transport",
    "client_common.device_keys",
    "protocol.checkout",
)


def missing_pieces() -> list[str]:
    missing = []
    for name in REQUIRED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def build_services(data_dir: str | Path) -> Services:
    """The real services for a till keeping its data in ``data_dir``."""
    missing = missing_pieces()
    if missing:
        raise SystemExit(
            "The cashier station cannot start: this build lacks "
            + ", ".join(missing)
            + ". Install the complete package."
        )
    raise SystemExit("The cashier station's network and store adapters are not wired in this build yet.")
