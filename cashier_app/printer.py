"""The till's receipt printer: the server's receipt layout (``CheckoutResult.receipt_text``, 80 mm) and
the till-signed receipt QR, and the X and Z shift reports (``cashier_app.shift_report``), through
python-escpos.

Configured with ``FT_RECEIPT_PRINTER``: a device or file path (``/dev/usb/lp0``: most USB receipt
printers appear as one; any other path is appended to, which is how tests read what was printed) or
``tcp:HOST[:PORT]`` for a network printer (port 9100 by default). Unset: no printing. ``FT_RECEIPT_WIDTH``
is the paper: ``80`` (48 columns, the default) or ``58`` (32 columns). Chinese receipt printers print
GB18030 text once Chinese character mode is on (``FS &``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from cashier_app.presenters.ports import Settled
from cashier_app.shift_report import ReportHeader, render_report
from protocol.paper import COLUMNS_58MM, COLUMNS_80MM, two_columns, wrap, yuan
from protocol.payments import ShiftReport

log = logging.getLogger(__name__)

CHINESE_MODE_ON = b"\x1c\x26"  # FS &
ENV = "FT_RECEIPT_PRINTER"
WIDTH_ENV = "FT_RECEIPT_WIDTH"


def columns_for(paper: str) -> int:
    """Columns of a paper width given as ``58`` or ``80`` (mm); 80 mm when unset or unknown."""
    return COLUMNS_58MM if paper.strip().removesuffix("mm") == "58" else COLUMNS_80MM


def write_lines(printer: object, lines: list[str]) -> None:
    """Plain lines as GB18030 text in Chinese character mode, then a cut (a shift report, a note)."""
    printer.hw("INIT")  # type: ignore[attr-defined]
    printer._raw(CHINESE_MODE_ON)  # type: ignore[attr-defined]
    printer._raw("\n".join(lines).encode("gb18030", errors="replace") + b"\n")  # type: ignore[attr-defined]
    printer.cut()  # type: ignore[attr-defined]


def report_bytes(
    report: ShiftReport, columns: int = COLUMNS_80MM, language: str = "zh", header: ReportHeader | None = None
) -> bytes:
    """The ESC/POS bytes of an X or Z report (what a printer would receive)."""
    from escpos.printer import Dummy

    dummy = Dummy()
    write_lines(dummy, render_report(report, columns, language, header))
    return bytes(dummy.output)


def offline_text(settled: Settled, columns: int = COLUMNS_80MM) -> str:
    """A short receipt for a checkout kept in the outbox (the server lays out the others)."""
    lines = [*wrap(f"Receipt {settled.receipt_no}  (offline)", columns), *settled.ticket_numbers]
    lines += [
        two_columns(t.kind + (f" {t.masked}" if t.masked else ""), yuan(t.amount), columns) for t in settled.tenders
    ]
    lines += [two_columns("TOTAL", yuan(settled.total), columns), two_columns("CHANGE", yuan(settled.change), columns)]
    return "\n".join(lines)


class ReceiptPrinter:
    """Prints a settled checkout; ``connect`` opens the python-escpos printer for each receipt."""

    def __init__(self, connect: Callable[[], object], columns: int = COLUMNS_80MM) -> None:
        self._connect = connect
        self.columns = columns  # 48 on 80 mm paper, 32 on 58 mm

    def print(self, settled: Settled, text: str) -> None:
        printer = self._connect()
        try:
            printer.hw("INIT")  # type: ignore[attr-defined]
            printer._raw(CHINESE_MODE_ON)  # type: ignore[attr-defined]
            body = text or offline_text(settled, self.columns)
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

    def print_lines(self, lines: list[str]) -> None:
        printer = self._connect()
        try:
            write_lines(printer, lines)
        finally:
            close = getattr(printer, "close", None)
            if close is not None:
                close()

    def print_report(self, report: ShiftReport, language: str = "zh", header: ReportHeader | None = None) -> None:
        """An X or Z report on this printer's paper; a fault is raised (the cashier can try again)."""
        self.print_lines(render_report(report, self.columns, language, header))

    def __call__(self, settled: Settled, text: str) -> None:
        """Never stops a checkout: a jammed printer is logged, the receipt stays on screen."""
        try:
            self.print(settled, text)
        except Exception:
            log.exception("the receipt of %s was not printed", settled.receipt_no)


def from_env(value: str | None = None, paper: str | None = None) -> ReceiptPrinter | None:
    """The printer ``FT_RECEIPT_PRINTER`` names on the paper ``FT_RECEIPT_WIDTH`` says, or None."""
    spec = (value if value is not None else os.environ.get(ENV, "")).strip()
    if not spec:
        return None
    from escpos.printer import File, Network

    columns = columns_for(paper if paper is not None else os.environ.get(WIDTH_ENV, "80"))
    if spec.startswith("tcp:"):
        host, _, port = spec[4:].partition(":")
        return ReceiptPrinter(lambda: Network(host, int(port or 9100)), columns)
    return ReceiptPrinter(lambda: _append_file(File, spec), columns)


def _append_file(file_printer: type, path: str) -> object:
    printer = file_printer(path, auto_flush=True)
    # python-escpos opens a file printer with "wb"; a plain file collects receipts one after another.
    printer._device = open(path, "ab" if not path.startswith("/dev/") else "wb")  # noqa: SIM115 - closed by print
    return printer
