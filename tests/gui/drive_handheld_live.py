"""Drive the real handheld app, with its real wiring, against a real server (run under Xvfb by tests/gui).

Usage: FT_TEST_SERVER=http://127.0.0.1:PORT FT_TEST_CODE=<enrollment code> python drive_handheld_live.py OUT_DIR
Enrolls through the enrollment screen, signs in, waits for the catalog, scans a barcode, issues, and
saves screenshots and ``result.json`` into OUT_DIR for the test process to check.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.gui import boot  # before anything of Kivy

boot.configure(boot.HANDHELD)

from client_common.transport import Backoff  # noqa: E402
from handheld_app.app import HandheldApp  # noqa: E402
from handheld_app.wiring import Handheld, build  # noqa: E402
from tests.gui.drive_handheld import bbox, focus, frames, shot, type_keys  # noqa: E402
from tests.gui.window import until  # noqa: E402

OUT = Path(sys.argv[1])
result: dict[str, Any] = {}


async def scenario(app: HandheldApp, hh: Handheld) -> None:
    await frames(10)
    sm = app.screens
    assert sm.current == "enrollment", sm.current
    enroll = sm.get_screen("enrollment")
    enroll.ids.server.text = os.environ["FT_TEST_SERVER"]
    await focus(enroll.ids.code)
    await type_keys(os.environ["FT_TEST_CODE"])
    await until(lambda: sm.current == "sign_in", "enrolled")
    # The device syncs as soon as it is enrolled (or the app starts enrolled), before anyone signs in.
    await until(lambda: hh.sync.running and hh.services.connection.state.online, "syncing before sign-in")
    identity = hh.device.identity
    assert identity is not None
    result["device_id"] = str(identity.device_id)

    sign_in = sm.get_screen("sign_in")
    await focus(sign_in.ids.staff)
    await type_keys("S001")
    await focus(sign_in.ids.pin)
    await type_keys("1111")
    await until(lambda: sm.current == "sell", "signed in")
    await until(lambda: hh.sync.catalog.loads >= 1, "catalog loaded")
    await until(lambda: hh.services.connection.state.online, "online")

    sell = sm.get_screen("sell")
    await focus(sell.ids.scan)
    await type_keys("6901234500011")  # iPhone 16, a scanner types the barcode and Enter
    builder = app.builder
    assert builder is not None
    result["lines"] = [[line.item.sku, line.qty] for line in builder.lines]
    await frames(3)
    sell.ids.issue.dispatch("on_release")
    await until(lambda: sm.current == "ticket_qr", "ticket QR shown")
    await frames(6)
    ticket = hh.book.tickets(None)[0]
    result["ticket"] = {"id": str(ticket.id), "number": ticket.number, "total": ticket.total, "qr": ticket.qr}
    qr = sm.get_screen("ticket_qr")
    result["qr_title"] = qr.ids.title.text
    shot("live_ticket_qr")

    await until(lambda: (t := hh.book.ticket(ticket.id)) is not None and t.synced, "acknowledged by the server")
    await until(lambda: hh.services.connection.state.outbox == 0, "outbox empty")
    await frames(4)
    result["bar"] = app.bar.status_text
    result["outbox"] = app.bar.outbox_text

    # One-stop: the customer pays this ticket on the handheld with a card (typed, then Enter).
    qr.ids.pay.dispatch("on_release")
    await until(lambda: sm.current == "card_payment", "card payment screen")
    card = sm.get_screen("card_payment")
    await frames(3)
    result["pay_amount"] = card.ids.amount.text
    await focus(card.ids.number)
    await type_keys("4111111111111111")
    await until(lambda: app.card_payment.phase == "paid", "card approved")
    await frames(6)
    result["pay_notice"] = card.ids.notice.text
    result["pay_release_box"] = bbox(card.ids.release)
    result["pay_charge_box"] = bbox(card.ids.charge)
    shot("live_card_paid")
    card.ids.release.dispatch("on_release")
    await until(lambda: (t := hh.book.ticket(ticket.id)) is not None and t.state == "released" and t.synced, "released")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    hh = build(OUT / "data", backoff=lambda: Backoff(base=0.05, cap=0.3))
    app = HandheldApp(hh.services)

    async def run_scenario() -> None:
        try:
            await scenario(app, hh)
            result["ok"] = True
        except BaseException:
            result["ok"] = False
            result["error"] = traceback.format_exc()
        finally:
            (OUT / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
            await hh.sync.stop()
            app.stop()

    await asyncio.gather(app.async_run(async_lib="asyncio"), run_scenario())


if __name__ == "__main__":
    asyncio.run(main())
