"""Build the handheld's ``Services`` from the real client pieces: the SQLite store (outbox, catalog,
tickets), the HTTP API (enroll, sign-in, members, catalog pages), the device keys that sign ticket
QR codes, and the websocket transport that runs the sans-IO sync core on the app's asyncio loop.

Each adapter below turns one of those pieces into the small port a presenter needs
(``handheld_app.presenters.ports``, ``client_common.presenters.ports``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from handheld_app.services import Services

# Ready: handheld_app.receipts.SignedReceipts (ReceiptVerifier over protocol.receipts).
REQUIRED = ("client_common.store", "client_common.api", "client_common.transport", "client_common.device_keys")


def missing_pieces() -> list[str]:
    missing = []
    for name in REQUIRED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def build_services(data_dir: str | Path) -> Services:
    """The real services for a handheld keeping its data in ``data_dir``."""
    missing = missing_pieces()
    if missing:
        raise SystemExit(
            "The handheld cannot start: this build lacks " + ", ".join(missing) + ". Install the complete package."
        )
    raise SystemExit("The handheld's network and store adapters are not wired in this build yet.")
