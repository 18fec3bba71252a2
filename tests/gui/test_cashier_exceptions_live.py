"""The supervisor's exception screen in the real till app under Xvfb, against the real server: the till's
outbox sends a cash checkout it settled offline for a ticket the counter voided meanwhile; the server
refuses it and records an exception, whose cash is held in the till's open shift. A supervisor opens
the screen from the checkout screen with staff number and PIN, sees the exception with the cash to give
back and the customer's receipt number, and resolves it with a note: the server has it resolved by that
supervisor, and the cash back out of the shift's expected cash."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from PIL import Image

from protocol.payments import ShiftReport
from server.auth.guards import Caller
from server.demo import DemoInfo
from server.shifts import service as shifts
from tests.cashier.live_helpers import IP16, Counter, code_for
from tests.cashier.test_exceptions_live import void_at_the_counter
from tests.live_server import LiveServer

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("drive_cashier_exceptions.py")
FLOAT = 50_000
CHANGE = 10_000


def run_driver(out: Path, env_extra: dict[str, str]) -> dict[str, Any]:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None and not os.environ.get("DISPLAY"):
        pytest.skip("needs Xvfb (xvfb-run) or a display")
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KIVY_NO_ARGS": "1", "KIVY_HOME": str(out / "kivy"), "KIVY_NO_CONSOLELOG": "1", **env_extra}
    cmd = [sys.executable, str(DRIVER), str(out)]
    if xvfb is not None:
        cmd = [xvfb, "-a", "-s", "-screen 0 1280x800x24", *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    result_file = out / "result.json"
    assert result_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:] + f" rc={proc.returncode}"
    result: dict[str, Any] = json.loads(result_file.read_text("utf-8"))
    assert result["ok"], result.get("error")
    return result


def orange_pixels(shot: Path, box: list[int]) -> int:
    """Pixels of the fix line's orange text inside its box: the amount to give back is really drawn."""
    data = Image.open(shot).convert("RGB").crop(tuple(box)).tobytes()  # type: ignore[arg-type]
    pixels = zip(data[0::3], data[1::3], data[2::3], strict=True)
    return sum(1 for r, g, b in pixels if r > 200 and 140 < g < 220 and b < 140)


async def test_a_supervisor_resolves_a_refused_offline_checkout_on_the_till_screen(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    apple = await Counter.enrolled(tmp_path / "apple", live, demo, "Handheld Apple 1")
    ticket_id, qr = await apple.issue(IP16)  # 5,999.00
    await apple.upload()
    await void_at_the_counter(conn, apple, ticket_id)  # the counter voided it while the till was offline
    apple.close()
    ticket = await conn.fetchrow("SELECT number, total FROM ticket WHERE id = $1", ticket_id)
    env = {
        "FT_TEST_SERVER": live.url,
        "FT_TEST_CODE": code_for(demo, "Till 1"),
        "FT_TEST_TICKET": json.dumps(
            {"id": str(ticket_id), "number": ticket["number"], "total": ticket["total"], "qr": qr}
        ),
    }
    r = await asyncio.to_thread(run_driver, tmp_path / "gui", env)

    e = await conn.fetchrow(
        "SELECT e.id, e.number, e.kind, e.status, e.resolution_note, e.device_id, s.code AS resolved_by"
        " FROM store_exception e LEFT JOIN staff s ON s.id = e.resolved_by WHERE e.checkout_id = $1",
        uuid.UUID(r["checkout_id"]),
    )
    assert e is not None, "the refused offline checkout was recorded"
    assert e["kind"] == "ticket_voided"
    assert str(e["device_id"]) == r["device_id"]
    assert f" {e['number']}" in r["dead_letter"], r["dead_letter"]

    # What the supervisor saw: which exception, the till and the customer's receipt, the cash to give back.
    shown = r["shown"]
    assert str(e["number"]) in shown["title"]
    assert shown["title"].endswith(("Ticket voided by the counter", "小票已被专柜作废"))
    assert "Till 1" in shown["where"]
    assert ticket["number"] in shown["where"]
    assert r["receipt_no"] in shown["where"], "the number printed on the customer's paper receipt"
    assert "¥5,999.00" in shown["fix"], "the cash kept (the change went back at once)"
    assert shown["pin_left"] == "", "the PIN is not left on the screen"
    shot_open = Path(r["shot_open"])
    assert shot_open.exists()
    assert orange_pixels(shot_open, shown["fix_box"]) > 50
    assert r["after"]["rows"] == 0
    assert str(e["number"]) in r["after"]["message"]
    assert Path(r["shot_resolved"]).exists()

    # The server: resolved by the supervisor with the note, from this till, and the books are right.
    assert (e["status"], e["resolution_note"], e["resolved_by"]) == (
        "resolved",
        "gave the cash back from the drawer",
        "V001",
    )
    audit = await conn.fetchrow(
        "SELECT device_id, details FROM audit_log WHERE action = 'exception.resolved' AND object_id = $1",
        str(e["id"]),
    )
    assert str(audit["device_id"]) == r["device_id"]
    shift_id = uuid.UUID(r["shift_id"])
    movements = await conn.fetch(
        "SELECT kind, amount FROM shift_movement WHERE shift_id = $1 AND reference = $2 ORDER BY at",
        shift_id,
        f"exception:{e['id']}",
    )
    assert [(m["kind"], m["amount"]) for m in movements] == [("pay_in", 599_900), ("pay_out", -599_900)]
    cashier = await conn.fetchrow("SELECT id, store_id FROM staff WHERE code = 'C001'")
    caller = Caller(staff_id=cashier["id"], store_id=cashier["store_id"], role="cashier")
    report: ShiftReport = await shifts.report(conn, caller, shift_id)
    cash = next(t for t in report.tenders if t.tender == "cash")
    assert (cash.expected, cash.exceptions_held, cash.exceptions_given_back, cash.sales) == (FLOAT, 599_900, 599_900, 0)
