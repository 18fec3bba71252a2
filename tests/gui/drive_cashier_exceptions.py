"""Drive the real cashier app's exception queue against a real server (run under Xvfb by tests/gui).

Usage: FT_TEST_SERVER=http://127.0.0.1:PORT FT_TEST_CODE=<till enrollment code>
FT_TEST_TICKET='{"id": ..., "number": ..., "total": ..., "qr": ...}' python drive_cashier_exceptions.py OUT_DIR
Enrolls, signs the cashier in and opens the shift; the till's outbox then holds a cash checkout of the
ticket (settled while the network was down, as ``queue`` keeps it) which the counter voided meanwhile:
sent, the server refuses it and records an exception. A supervisor opens the exception screen from the
checkout screen's top bar with staff number and PIN, sees the cash to give back, and resolves it with a
note. Screenshots and ``result.json`` go to OUT_DIR.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.gui import boot  # before anything of Kivy

boot.configure(boot.TILL)

from cashier_app.app import CashierApp  # noqa: E402
from cashier_app.presenters.ports import BasketTicket, SettleRequest, Tender  # noqa: E402
from cashier_app.wiring import Till, build  # noqa: E402
from client_common.i18n import translator  # noqa: E402
from client_common.transport import Backoff  # noqa: E402
from protocol.ids import new_id  # noqa: E402
from tests.gui.drive_cashier import focus, frames, shot, type_keys  # noqa: E402
from tests.gui.window import bbox, until  # noqa: E402

OUT = Path(sys.argv[1])
CHANGE = 10_000  # the customer handed over 100.00 more than due and got it back as change
result: dict[str, Any] = {}


def walk(widget: Any) -> list[Any]:
    return [widget, *(w for child in widget.children for w in walk(child))]


async def sign_in_and_open_shift(app: CashierApp, till: Till) -> None:
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
    assert app.shift is not None
    assert app.shift.shift is not None
    result["shift_id"] = str(app.shift.shift.shift_id)


async def refused_offline_checkout(till: Till) -> None:
    """The checkout the till took in cash while offline, as its outbox keeps it, then sent and refused."""
    ticket = json.loads(os.environ["FT_TEST_TICKET"])
    total = int(ticket["total"])
    request = SettleRequest(
        checkout_id=new_id(),
        tickets=(
            BasketTicket(id=uuid.UUID(ticket["id"]), number=ticket["number"], total=total, lines=(), qr=ticket["qr"]),
        ),
        tenders=(Tender(new_id(), "cash", total + CHANGE),),
        total=total,
    )
    queued = till.checkouts.queue(request)
    assert queued.queued
    result["checkout_id"] = str(queued.checkout_id)
    result["receipt_no"] = queued.receipt_no
    await till.checkouts.flush()
    connection = till.services.connection
    await until(lambda: len(connection.state.dead_letters) == 1, "the refusal shown")
    result["dead_letter"] = connection.state.dead_letters[0].message


async def resolve_on_the_exception_screen(app: CashierApp) -> None:
    sm = app.screens
    checkout = sm.get_screen("checkout")
    label = translator.tr("nav.exceptions")
    [nav] = [w for w in walk(checkout) if getattr(w, "text", None) == label and hasattr(w, "trigger_action")]
    nav.trigger_action(0)
    await until(lambda: sm.current == "exceptions", "the exception screen")
    await frames(6)
    screen = sm.get_screen("exceptions")
    presenter = app.exceptions
    assert presenter is not None
    assert not presenter.rows, "nothing is shown before a supervisor's PIN"
    await focus(screen.ids.supervisor)
    await type_keys("V001", enter=False)
    await focus(screen.ids.pin)
    await type_keys("4444")
    await until(lambda: bool(presenter.rows), "the queue opened")
    await frames(6)
    [view] = screen.ids.rows.children
    result["shown"] = {
        "title": view.ids.title.text,
        "where": view.ids.where.text,
        "fix": view.ids.fix.text,
        "message": screen.ids.message.text,
        "pin_left": screen.ids.pin.text,
        "fix_box": bbox(view.ids.fix),
    }
    result["shot_open"] = shot("exceptions_open")

    await focus(view.ids.note)
    await type_keys("gave the cash back from the drawer", enter=False)
    view.ids.resolve.trigger_action(0)
    await until(lambda: not presenter.rows and not presenter.busy, "resolved and the list read again")
    await frames(6)
    result["after"] = {"message": screen.ids.message.text, "rows": len(screen.ids.rows.children)}
    result["shot_resolved"] = shot("exceptions_resolved")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    till = build(OUT / "data", backoff=lambda: Backoff(base=0.05, cap=0.3))
    app = CashierApp(till.services)

    async def run_scenario() -> None:
        try:
            await frames(10)
            await sign_in_and_open_shift(app, till)
            await refused_offline_checkout(till)
            await resolve_on_the_exception_screen(app)
            result["language"] = translator.language
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
