"""The till's real wiring prints the Z report on its receipt printer when the shift closes."""

from __future__ import annotations

from pathlib import Path

from cashier_app.presenters.shift import ShiftPresenter
from cashier_app.printer import from_env
from server.demo import DemoInfo
from tests.cashier.live_helpers import signed_in_till, until
from tests.live_server import LiveServer


async def test_closing_the_shift_prints_the_z_report_with_the_servers_figures(
    live: LiveServer, demo: DemoInfo, tmp_path: Path
) -> None:
    path = tmp_path / "printer.bin"
    till, session = await signed_in_till(tmp_path / "till", live, demo, printer=from_env(str(path), paper="58"))
    s = till.services
    assert s.print_report is not None
    await until(lambda: till.settings is not None and till.settings.current is not None, what="settings read")
    shift = ShiftPresenter(s.shifts, s.connection, s.print_report)
    assert await shift.open("123.45")
    report = await shift.close("123.40")
    assert report is not None, shift.message
    assert shift.message == "Z report printed."
    text = path.read_bytes().decode("gb18030", errors="replace")
    assert "Z REPORT - shift closed" in text
    assert "123.45" in text, "the float"
    assert "short 0.05" in text
    assert session.name in text
    await s.stop_sync()
    till.close()
