"""The till's receipt printer: the server's receipt layout (``CheckoutResult.receipt_text``, 80 mm) and
the till-signed receipt QR, through python-escpos.

Configured with ``FT_RECEIPT_PRINTER``: a device or file path (``/dev/usb/lp0``: most USB receipt
printers appear as one; any other path is appended to, which is how tests read what was printed) or
``tcp:HOST[:PORT]`` for a network printer (port 9100 by default). Unset: no printing. Chinese receipt
printers print GB18030 text once Chinese character mode is on (``FS &``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from cashier_app.presenters.ports import Settled

log = logging.getLogger(__name__)

CHINESE_MODE_ON = b"\x1c\x26"  # FS &
ENV = "FT_RECEIPT_PRINTER"


def offline_text(settled: Settled) -> str:
    """A short receipt for a checkout kept in the outbox (the server lays out the others)."""
    lines = [f"Receipt {settled.receipt_no}  (offline)", *settled.ticket_numbers]
    lines += [f"{t.kind:<14}{t.amount / 100:>12.2f}" for t in settled.tenders]
    lines += [f"{'TOTAL':<14}{settled.total / 100:>12.2f}", f"{'CHANGE':<14}{settled.change / 100:>12.2f}"]
    return "\n".join(lines)


class ReceiptPrinter:
    """Prints a settled checkout; ``connect`` opens the python-escpos printer for each receipt."""

    def __init__(self, connect: Callable[[], object]) -> None:
        self._connect = connect

    def print(self, settled: Settled, text: str) -> None:
        printer = self._connect()
        try:
            printer.hw("INIT")  # type: ignore[attr-defined]
            printer._raw(CHINESE_MODE_ON)  # type: ignore[attr-defined]
            body = text or offline_text(settled)
            printer._raw(body.encode("gb18030", errors="replace") + b"\n")  # type: ignore[attr-defined]
            if settled.receipt_qr:
                printer.set(align="center")  # type: ignore[attr-defined]
                printer.qr(settled.receipt_qr, size=4, native=True)  # type: ignore[attr-defined]
                printer.set(align="left")  # type: ignore[attr-defined]
            printer.cut()  # type: ignore[attr-defined]
        finally:
            close = getattr(printer, "close", None)
            if close is not None:
                close()

    def __call__(self, settled: Settled, text: str) -> None:
        """Never stops a checkout: a jammed printer is logged, the receipt stays on screen."""
        try:
            self.print(settled, text)
        except Exception:
            log.exception("the receipt of %s was not printed", settled.receipt_no)


def from_env(value: str | None = None) -> ReceiptPrinter | None:
    """The printer ``FT_RECEIPT_PRINTER`` names, or None."""
    spec = (value if value is not None else os.environ.get(ENV, "")).strip()
    if not spec:
        return None
    from escpos.printer import File, Network

    if spec.startswith("tcp:"):
        host, _, port = spec[4:].partition(":")
        return ReceiptPrinter(lambda: Network(host, int(port or 9100)))
    return ReceiptPrinter(lambda: _append_file(File, spec))


def _append_file(file_printer: type, path: str) -> object:
    printer = file_printer(path, auto_flush=True)
    # python-escpos opens a file printer with "wb"; a plain file collects receipts one after another.
    printer._device = open(path, "ab" if not path.startswith("/dev/") else "wb")  # noqa: SIM115 - closed by print
    return printer
