"""Drive the real cashier app in a real Kivy window (run under Xvfb by tests/gui).

Usage: python tests/gui/drive_cashier.py OUT_DIR
Writes screenshots and ``result.json`` into OUT_DIR; the test process checks them. Keyboard input goes
through the window's key events, exactly as a keyboard-wedge scanner types. Ticket QR codes are really
signed by a handheld key and verified by the till's reader; the receipt QR is really signed by the till.
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

FONT = boot.configure(boot.TILL)

import nacl.signing  # noqa: E402

from cashier_app.app import CashierApp  # noqa: E402
from cashier_app.codes import SignedTicketReader, offline_receipt_qr  # noqa: E402
from cashier_app.presenters.ports import BasketTicket, Settled, SettleRequest  # noqa: E402
from cashier_app.services import Services  # noqa: E402
from client_common.connection import ConnectionState  # noqa: E402
from client_common.i18n import translator  # noqa: E402
from client_common.presenters.ports import EnrolledDevice, Refused  # noqa: E402
from protocol.qr import sign_ticket  # noqa: E402
from protocol.tickets import IssueTicket, TicketDraft, TicketLine  # noqa: E402
from tests.cashier.fakes import (  # noqa: E402
    LI,
    STORE,
    WANG,
    FakeAuth,
    FakeCustomers,
    FakeEvents,
    FakeRefunds,
    FakeShifts,
    FakeTerminal,
    FakeTopUps,
    wire_ticket,
)
from tests.gui.window import bbox, focus, frames, key, save_shot, type_keys  # noqa: E402

OUT = Path(sys.argv[1])
result: dict[str, Any] = {"font": str(FONT) if FONT else None}

HANDHELD = uuid.UUID("01900000-0000-7000-8000-0000000000a1")
HANDHELD_KEY = nacl.signing.SigningKey(b"h" * 32)
TILL = uuid.UUID("01900000-0000-7000-8000-0000000000b1")
TILL_KEY = b"t" * 32
COUNTERS = {uuid.UUID(int=101): "苹果专柜", uuid.UUID(int=102): "索尼专柜"}
NAMES = {uuid.UUID(int=1): ("APL-IP16", "iPhone 16 128GB"), uuid.UUID(int=2): ("SNY-XM5", "索尼降噪耳机")}


def signed_ticket(n: int, counter: uuid.UUID, product: uuid.UUID, price: int) -> str:
    draft = TicketDraft(
        id=uuid.UUID(f"01900000-0000-7000-8000-3000000000{n:02d}"),
        store_id=STORE,
        counter_id=counter,
        number=f"SH01-{n:02d}-H1-{n:06d}",
        lines=[
            TicketLine(
                line_no=1,
                product_id=product,
                sku="",
                name="",
                qty=1,
                list_price=price,
                unit_price=price,
                line_total=price,
            )
        ],
        total=price,
        member_id=WANG,
        issued_at_ms=1_700_000_000_000,
    )
    command = IssueTicket(command_id=draft.id, device_seq=n, made_at_ms=1_700_000_000_000, ticket=draft)
    return sign_ticket(command, HANDHELD, bytes(HANDHELD_KEY))


QR1 = signed_ticket(1, uuid.UUID(int=101), uuid.UUID(int=1), 599900)
QR2 = signed_ticket(2, uuid.UUID(int=102), uuid.UUID(int=2), 249900)
READER = SignedTicketReader(
    lambda d: bytes(HANDHELD_KEY.verify_key) if d == HANDHELD else None,
    NAMES.get,
    lambda c: COUNTERS.get(c, ""),
)


class Enroller:
    def __init__(self) -> None:
        self.device: EnrolledDevice | None = None

    def enrolled(self) -> EnrolledDevice | None:
        return self.device

    async def enroll(self, server_url: str, code: str) -> EnrolledDevice:
        if code != "ABCD1234":
            raise Refused("enrollment_code_invalid", "This enrollment code is not valid.")
        self.device = EnrolledDevice(TILL, STORE, "收银台 1")
        return self.device


class Customers(FakeCustomers):
    """The server's view: Wang's two tickets from two counters (the ones the QR codes carry)."""

    def __init__(self) -> None:
        t1, t2 = READER.read(QR1), READER.read(QR2)
        server = [BasketTicket(**{**t.__dict__, "qr": ""}) for t in (t1, t2)]
        super().__init__(server)
        self.by_qr = {QR1: server[0], QR2: server[1]}

    def _ticket(self, code: str) -> BasketTicket | None:
        return self.by_qr.get(code) or next((t for t in self.open if t.number == code), None)


class Checkouts:
    def __init__(self) -> None:
        self.settled: list[SettleRequest] = []
        self.outbox: list[SettleRequest] = []

    def _receipt(self, request: SettleRequest, queued: bool) -> Settled:
        tendered = sum(t.amount for t in request.tenders)
        number = f"R-{len(self.settled) + len(self.outbox):04d}"
        return Settled(
            checkout_id=request.checkout_id,
            receipt_no=number,
            ticket_numbers=tuple(t.number for t in request.tickets),
            total=request.total,
            tendered=tendered,
            change=tendered - request.total,
            tenders=request.tenders,
            receipt_qr=offline_receipt_qr(request, number, STORE, TILL, TILL_KEY),
            points_earned=0 if queued else request.total // 100,
            queued=queued,
        )

    async def settle(self, request: SettleRequest) -> Settled:
        self.settled.append(request)
        return self._receipt(request, False)

    def queue(self, request: SettleRequest) -> Settled:
        self.outbox.append(request)
        return self._receipt(request, True)


def shot(name: str) -> str:
    return save_shot(OUT, name)


async def scenario(app: CashierApp, services: Services, events: FakeEvents, checkouts: Checkouts) -> None:
    await frames(10)
    sm = app.screens
    assert sm.current == "enrollment", sm.current
    await focus(sm.get_screen("enrollment").ids.code)
    await type_keys("abcd-1234")
    await frames(4)
    assert sm.current == "sign_in", sm.current

    # A sales assistant cannot work the till.
    sign_in = sm.get_screen("sign_in")
    await focus(sign_in.ids.staff)
    await type_keys("S001")
    await focus(sign_in.ids.pin)
    await type_keys("1111")
    await frames(4)
    result["sales_refused"] = sign_in.ids.error.text
    assert sm.current == "sign_in", sm.current

    translator.set_language("zh")
    await frames(4)
    result["title_zh"] = sign_in.ids.title.text
    result["title_bbox"] = bbox(sign_in.ids.title)
    shot("sign_in_zh")
    if os.environ.get("FT_GUI_STOP_AFTER") == "sign_in":
        return
    sign_in.ids.staff.text = ""
    await focus(sign_in.ids.staff)
    await type_keys("C001")
    await focus(sign_in.ids.pin)
    await type_keys("2222")
    await frames(6)
    assert sm.current == "shift", sm.current

    # Open the shift with a ¥500 float, typed.
    shift = sm.get_screen("shift")
    await focus(shift.ids.float_amount)
    await type_keys("500")
    await frames(6)
    assert sm.current == "checkout", sm.current
    result["shift_message"] = shift.ids.message.text

    # Tickets arrive live: Wang's two (two counters) and a walk-in.
    events.emit("ticket_issued", wire_ticket(5, None, 1_700_000_000_500, 19900))
    events.emit("ticket_issued", wire_ticket(1, WANG, 1_700_000_000_000, 599900))
    events.emit("ticket_issued", wire_ticket(2, WANG, 1_700_000_001_000, 249900))
    await frames(4)
    checkout = sm.get_screen("checkout")
    result["queue"] = [w.text for w in reversed(checkout.ids.queue.children)]
    result["queue_summary"] = checkout.ids.queue_summary.text

    # Scan one ticket QR: the scanner types its payload and Enter; both of Wang's tickets come in.
    assert checkout.ids.scan.focus
    await type_keys(QR1)
    await frames(4)
    result["basket"] = [(v.ids.title.text, v.ids.total.text) for v in reversed(checkout.ids.rows.children)]
    result["basket_total"] = checkout.ids.total.text
    result["member"] = checkout.ids.member.text
    result["scan_after"] = checkout.ids.scan.text
    shot("checkout_zh")

    # Stored value with F5 (all the member can use), then cash typed in the amount field + Enter.
    await key(286)
    result["after_stored_value"] = checkout.ids.remaining.text
    await focus(checkout.ids.amount)
    await type_keys("7500")
    await frames(8)
    assert sm.current == "receipt", sm.current
    receipt = sm.get_screen("receipt")
    result["receipt"] = {
        "title": receipt.ids.title.text,
        "total": receipt.ids.total.text,
        "change": receipt.ids.change.text,
        "tenders": receipt.ids.tenders.text,
        "qr": receipt.view.qr,
    }
    [request] = checkouts.settled
    result["settled"] = {
        "tickets": [t.number for t in request.tickets],
        "tenders": [[t.kind, t.amount] for t in request.tenders],
        "total": request.total,
        "member": str(request.member_id),
        "shift": str(request.shift_id),
    }
    shot("receipt")

    # English, live; Enter for the next customer.
    translator.set_language("en")
    await frames(4)
    result["next_en"] = receipt.ids.next.text
    await key(13)
    await frames(4)
    assert sm.current == "checkout", sm.current
    result["cleared"] = checkout.ids.total.text

    # Offline: the banner, disabled tenders with reasons, a QR-scanned ticket settled in cash.
    services.connection.update(ConnectionState(link="offline", outbox=0))
    await frames(4)
    result["banner"] = app.banner.text
    await focus(checkout.ids.scan)
    await type_keys(QR2)
    await frames(4)
    result["offline_buttons"] = {k: checkout.ids[k].disabled for k in ("cash", "card", "wallet", "stored_value")}
    result["offline_why"] = checkout.ids.why.text
    result["offline_card_hint"] = checkout.ids.instrument.hint_text
    shot("checkout_offline")
    await focus(checkout.ids.amount)
    await type_keys("2500")
    await frames(8)
    assert sm.current == "receipt", sm.current
    [queued] = checkouts.outbox
    result["queued"] = {"qr": [t.qr for t in queued.tickets], "tenders": [[t.kind, t.amount] for t in queued.tenders]}
    result["queued_note"] = receipt.ids.note.text
    result["queued_change"] = receipt.ids.change.text


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    events = FakeEvents()
    events.names[LI] = "李*"
    checkouts = Checkouts()
    services = Services(
        data_dir=OUT / "data",
        enroller=Enroller(),
        auth=FakeAuth(),
        reader=READER,
        customers=Customers(),
        events=events,
        terminal=FakeTerminal(),
        checkouts=checkouts,
        refunds=FakeRefunds(),
        shifts=FakeShifts(),
        top_ups=FakeTopUps(),
    )
    services.connection.update(ConnectionState(link="online"))
    app = CashierApp(services)

    async def run_scenario() -> None:
        try:
            await scenario(app, services, events, checkouts)
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
