"""The till's wiring without a server: a fresh till, and the receipt printer setting."""

from __future__ import annotations

import uuid
from pathlib import Path

from cashier_app.presenters.ports import Settled, Tender
from cashier_app.printer import from_env
from cashier_app.wiring import build


async def test_a_fresh_till_is_not_enrolled_and_does_not_try_to_sync(tmp_path: Path) -> None:
    till = build(tmp_path)
    assert till.services.enroller.enrolled() is None
    assert till.device.server_url == "http://127.0.0.1:8000"
    await till.services.start_sync(None)  # type: ignore[arg-type]
    assert not till.sync.running
    assert till.checkouts.queued() == []
    till.close()


def test_the_printer_writes_the_layout_the_qr_and_a_cut_to_a_file(tmp_path: Path) -> None:
    assert from_env("") is None
    out = tmp_path / "receipts.bin"
    printer = from_env(str(out))
    assert printer is not None
    settled = Settled(
        checkout_id=uuid.UUID(int=1),
        receipt_no="SH01-T000001-000001",
        ticket_numbers=("SH01-A-1",),
        total=10000,
        tendered=10000,
        change=0,
        tenders=(Tender(uuid.UUID(int=2), "cash", 10000),),
        receipt_qr="FTR1:ABC",
        queued=True,
    )
    printer(settled, "上海旗舰店\n合计 100.00")
    printer(settled, "")  # offline: the till's own short layout
    data = out.read_bytes()
    assert data.count(b"\x1c\x26") == 2, "Chinese character mode, once per receipt"
    assert "上海旗舰店".encode("gb18030") in data
    assert b"Receipt SH01-T000001-000001  (offline)" in data
    assert data.count(b"FTR1:ABC") == 2
    assert data.count(b"\x1dV") == 2, "each receipt is cut"
