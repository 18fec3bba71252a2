"""Drive the real handheld app in a real Kivy window (run under Xvfb by tests/gui).

Usage: python tests/gui/drive_handheld.py OUT_DIR
Writes screenshots and ``result.json`` into OUT_DIR; the test process checks them.
Keyboard input goes through the window's key events, exactly as a keyboard-wedge scanner types.
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

FONT = boot.configure(boot.HANDHELD)

from kivy.core.window import Window  # noqa: E402

from client_common.connection import ConnectionState, DeadLetter  # noqa: E402
from client_common.i18n import translator  # noqa: E402
from handheld_app.app import HandheldApp  # noqa: E402
from handheld_app.services import Services  # noqa: E402
from tests.gui import window  # noqa: E402
from tests.gui.window import bbox, focus, frames, save_shot  # noqa: E402
from tests.handheld.fakes import (  # noqa: E402
    FakeAuth,
    FakeBook,
    FakeCatalog,
    FakeEnroller,
    FakeMembers,
    FakeVerifier,
)

OUT = Path(sys.argv[1])
result: dict[str, Any] = {"font": str(FONT) if FONT else None, "steps": []}


def shot(name: str) -> str:
    return save_shot(OUT, name)


async def type_keys(text: str, enter: bool = True) -> None:
    await window.type_keys(text, enter, per_key=True, settle=2)


async def scenario(app: HandheldApp, services: Services, book: FakeBook) -> None:
    await frames(10)
    sm = app.screens
    # Enrollment with the one-time code, typed.
    assert sm.current == "enrollment", sm.current
    screen = sm.get_screen("enrollment")
    await focus(screen.ids.code)
    await type_keys("abcd-1234")
    await frames(5)
    assert sm.current == "sign_in", sm.current

    # Sign-in screen in Chinese.
    translator.set_language("zh")
    await frames(5)
    sign_in = sm.get_screen("sign_in")
    result["title_zh"] = sign_in.ids.title.text
    result["title_bbox"] = bbox(sign_in.ids.title)
    shot("sign_in_zh")
    if os.environ.get("FT_GUI_STOP_AFTER") == "sign_in":
        return
    await focus(sign_in.ids.staff)
    await type_keys("S001")
    await focus(sign_in.ids.pin)
    await type_keys("1111")
    await frames(5)
    assert sm.current == "sell", sm.current

    # Scan two barcodes (scanner = keyboard: digits then Enter) and the first one again.
    sell = sm.get_screen("sell")
    await frames(3)
    for code in ("6901234500073", "6901234500042", "6901234500073"):
        await type_keys(code)
    b = app.builder
    assert b is not None
    result["lines"] = [(line.item.sku, line.qty) for line in b.lines]
    result["scan_field_after"] = sell.ids.scan.text

    # Price override on the Pura 70 with the supervisor's PIN.
    sell.override(1)
    await frames(3)
    popup = next(w for w in Window.children if w.__class__.__name__ == "OverridePopup")
    popup.ids.price.text = "4800"
    popup.ids.supervisor.text = "V001"
    popup.ids.pin.text = "4444"
    popup.approve()
    await frames(5)
    result["total_after_override"] = b.total

    # Attach the member by phone.
    app.go("member")
    await frames(3)
    member = sm.get_screen("member")
    await focus(member.ids.code)
    await type_keys("13800000001")
    await frames(5)
    result["member_card"] = member.ids.card.text
    member.attach()
    await frames(3)
    result["total_text"] = sell.ids.total.text
    shot("sell_zh")

    # Switch to English live and check a label that came from kv.
    translator.set_language("en")
    await frames(4)
    result["issue_button_en"] = sell.ids.issue.text
    result["total_text_en"] = sell.ids.total.text

    # Issue: the full-screen QR.
    sell.issue()
    await frames(6)
    assert sm.current == "ticket_qr", sm.current
    qr = sm.get_screen("ticket_qr")
    ticket = next(iter(book.local.values()))
    result["ticket"] = {"id": str(ticket.id), "number": ticket.number, "total": ticket.total, "qr": ticket.qr}
    result["qr_title"] = qr.ids.title.text
    result["qr_total"] = qr.ids.total.text
    shot("ticket_qr")

    # The connection bar shows offline, the outbox and a refused command with what to do.
    services.connection.update(
        ConnectionState(
            link="offline",
            outbox=2,
            dead_letters=(DeadLetter(ticket.id, "Ticket X", "validation_failed", "Line 2 total is wrong."),),
        )
    )
    await frames(3)
    result["bar"] = [app.bar.status_text, app.bar.outbox_text, app.bar.dead_text]

    # Paid arrives from the server; the ticket shows paid and the goods are released.
    qr.ids.done.dispatch("on_release")
    app.go("my_tickets")
    await frames(3)
    book.set_state(ticket.id, "paid")
    await frames(4)
    mine = sm.get_screen("my_tickets")
    row = mine.ids.rows.children[0]
    result["state_shown"] = row.ids.state.text
    shot("my_tickets_paid")
    row.ids.release.dispatch("on_release")
    await frames(4)
    result["released"] = [str(t) for t, _ in book.released]
    result["message"] = mine.ids.message.text


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    book = FakeBook()
    services = Services(
        data_dir=OUT / "data",
        enroller=FakeEnroller(),
        auth=FakeAuth(),
        catalog=FakeCatalog(),
        members=FakeMembers(),
        book=book,
        verifier=FakeVerifier(),
    )
    app = HandheldApp(services)

    async def run_scenario() -> None:
        try:
            await scenario(app, services, book)
            result["ok"] = True
        except BaseException:
            result["ok"] = False
            result["error"] = traceback.format_exc()
        finally:
            (OUT / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
            app.stop()

    await asyncio.gather(app.async_run(async_lib="asyncio"), run_scenario())


if __name__ == "__main__":
    asyncio.run(main())
