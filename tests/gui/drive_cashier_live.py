"""Drive the real cashier app, with its real wiring, against a real server (run under Xvfb by tests/gui).

Usage: FT_TEST_SERVER=http://127.0.0.1:PORT FT_TEST_CODE=<till enrollment code> FT_TEST_QR=<ticket QR>
python drive_cashier_live.py OUT_DIR
Enrolls through the enrollment screen, signs the cashier in, opens the shift, scans the ticket QR the
way a scanner types it, takes cash with Enter and saves the receipt screenshot and ``result.json``.
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

boot.configure(boot.TILL)

from cashier_app.app import CashierApp  # noqa: E402
from cashier_app.wiring import Till, build  # noqa: E402
from client_common.transport import Backoff  # noqa: E402
from tests.gui.drive_cashier import focus, frames, shot, type_keys  # noqa: E402
from tests.gui.window import until  # noqa: E402

OUT = Path(sys.argv[1])
result: dict[str, Any] = {}


async def scenario(app: CashierApp, till: Till) -> None:
    await frames(10)
    sm = app.screens
    assert sm.current == "enrollment", sm.current
    enroll = sm.get_screen("enrollment")
    enroll.ids.server.text = os.environ["FT_TEST_SERVER"]
    await focus(enroll.ids.code)
    await type_keys(os.environ["FT_TEST_CODE"])
    await until(lambda: sm.current == "sign_in", "enrolled")
    identity = till.device.identity
    assert identity is not None
    result["device_id"] = str(identity.device_id)

    sign_in = sm.get_screen("sign_in")
    await focus(sign_in.ids.staff)
    await type_keys("C001")
    await focus(sign_in.ids.pin)
    await type_keys("3333")
    await until(lambda: sm.current == "shift", "signed in, no shift open yet")
    await until(lambda: till.services.connection.state.online, "online")
    shift = sm.get_screen("shift")
    await focus(shift.ids.float_amount)
    await type_keys("500")
    await until(lambda: sm.current == "checkout", "shift opened")

    checkout = sm.get_screen("checkout")
    await focus(checkout.ids.scan)
    await type_keys(os.environ["FT_TEST_QR"])
    await until(lambda: app.basket is not None and app.basket.tickets and not app.basket.busy, "ticket in the basket")
    assert app.basket is not None
    result["basket_total"] = app.basket.total
    await frames(3)
    await focus(checkout.ids.amount)
    await type_keys("6000")
    await until(lambda: sm.current == "receipt", "receipt shown")
    await frames(6)
    receipt = sm.get_screen("receipt")
    assert app.payment is not None
    settled = app.payment.settled
    assert settled is not None
    result["receipt"] = {
        "qr": receipt.view.qr,
        "change": receipt.ids.change.text,
        "checkout_id": str(settled.checkout_id),
        "receipt_no": settled.receipt_no,
        "queued": settled.queued,
    }
    shot("live_receipt")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    till = build(OUT / "data", backoff=lambda: Backoff(base=0.05, cap=0.3))
    app = CashierApp(till.services)

    async def run_scenario() -> None:
        try:
            await scenario(app, till)
            result["ok"] = True
        except BaseException:
            result["ok"] = False
            result["error"] = traceback.format_exc()
        finally:
            (OUT / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
            await till.sync.stop()
            app.stop()

    await asyncio.gather(app.async_run(async_lib="asyncio"), run_scenario())


if __name__ == "__main__":
    asyncio.run(main())
