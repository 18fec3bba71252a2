"""The wiring's pieces that need no server: the websocket address, numbers, a fresh device."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec
import pytest

from client_common.adapters.identity import DeviceIdentity
from client_common.adapters.sync import ws_url
from handheld_app.wiring import build


@pytest.mark.parametrize(
    ("server", "ws"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/ws"),
        ("https://pos.example.com", "wss://pos.example.com/ws"),
        ("http://10.0.0.5:8000/", "ws://10.0.0.5:8000/ws"),
    ],
)
def test_the_websocket_follows_the_server_address(server: str, ws: str) -> None:
    assert ws_url(server) == ws


async def test_a_fresh_device_is_not_enrolled_and_does_not_try_to_sync(tmp_path: Path) -> None:
    hh = build(tmp_path)
    assert hh.services.enroller.enrolled() is None
    assert hh.device.server_url == "http://127.0.0.1:8000"
    await hh.services.start_sync(None)
    assert not hh.sync.running
    hh.close()


def test_ticket_numbers_go_on_across_restarts_and_never_repeat(tmp_path: Path) -> None:
    hh = build(tmp_path)
    hh.device.keep(
        DeviceIdentity(
            device_id=uuid.UUID("01900000-0000-7000-8000-0000009097c9"),
            store_id=uuid.UUID(int=1),
            store_code="SH01",
            counter_id=uuid.UUID("01900000-0000-7000-8000-00000000bfb6"),
            label="Handheld Apple 1",
            kind="handheld",
            device_token="t",
            server_url="http://127.0.0.1:8000",
        )
    )
    assert [hh.book.next_number(), hh.book.next_number()] == ["SH01-BFB6-9097C9-000001", "SH01-BFB6-9097C9-000002"]
    hh.close()
    again = build(tmp_path)
    assert again.services.enroller.enrolled() is not None
    assert again.book.next_number() == "SH01-BFB6-9097C9-000003"
    again.close()


def test_ticket_numbers_carry_the_counter_and_device_codes_from_enrollment(tmp_path: Path) -> None:
    hh = build(tmp_path)
    old = {  # as a handheld enrolled with an older server stored it: no codes
        "device_id": "01900000-0000-7000-8000-0000009097c9",
        "store_id": str(uuid.UUID(int=1)),
        "store_code": "SH01",
        "counter_id": "01900000-0000-7000-8000-00000000bfb6",
        "label": "Handheld Apple 1",
        "kind": "handheld",
        "device_token": "t",
        "server_url": "http://127.0.0.1:8000",
    }
    hh.store.set("device_identity", old)
    hh.close()
    again = build(tmp_path)
    assert again.book.next_number() == "SH01-BFB6-9097C9-000001"
    identity = again.device.identity
    assert identity is not None
    again.device.keep(msgspec.structs.replace(identity, counter_code="C-APL", device_code="H1"))
    assert again.book.next_number() == "SH01-C-APL-H1-000002"
    enrolled = again.services.enroller.enrolled()
    assert enrolled is not None
    assert enrolled.counter_code == "C-APL"
    again.close()


def test_my_tickets_are_this_devices_only_and_a_refused_one_carries_the_servers_reason(tmp_path: Path) -> None:
    from client_common.device_keys import DeviceKeys
    from protocol.errors import ErrorBody
    from protocol.ids import new_id
    from protocol.sync import DeadLetter, DeadLettered
    from protocol.tickets import IssueTicket, TicketDraft, TicketLine

    hh = build(tmp_path)
    me = uuid.UUID("01900000-0000-7000-8000-0000009097c9")
    counter = uuid.UUID(int=3)
    hh.device.keep(
        DeviceIdentity(
            device_id=me,
            store_id=uuid.UUID(int=1),
            store_code="SH01",
            counter_id=counter,
            label="Handheld Apple 1",
            kind="handheld",
            device_token="t",
            server_url="http://127.0.0.1:8000",
        )
    )
    DeviceKeys.create(tmp_path)
    staff = uuid.UUID(int=11)

    def draft(at: int, staff_id: uuid.UUID = staff) -> TicketDraft:
        line = TicketLine(
            line_no=1,
            product_id=counter,
            sku="K1",
            name="kettle",
            qty=1,
            list_price=100,
            unit_price=100,
            line_total=100,
        )
        return TicketDraft(
            id=new_id(),
            store_id=uuid.UUID(int=1),
            counter_id=counter,
            number=hh.book.next_number(),
            lines=[line],
            total=100,
            staff_id=staff_id,
            issued_at_ms=at,
        )

    first, second = hh.book.issue(draft(1)), hh.book.issue(draft(2))
    colleague = hh.book.issue(draft(3, uuid.UUID(int=12)))
    hh.store.issue(draft(4), device_id=uuid.UUID(int=99), made_at_ms=4)  # another handheld's, seen in events
    assert [t.id for t in hh.book.tickets(None)] == [colleague.id, second.id, first.id]
    assert [t.id for t in hh.book.tickets(staff)] == [second.id, first.id]

    command = next(c for c in hh.store.outbox() if isinstance(c, IssueTicket) and c.ticket.id == second.id)
    error = ErrorBody(
        code="ticket_totals_mismatch", message="The ticket total is 100 fen but its lines add up to 90 fen."
    )
    hh.store.persist(DeadLettered(letter=DeadLetter(command=command, error=error)))
    refused = hh.book.ticket(second.id)
    assert refused is not None
    assert (refused.refused_code, refused.refused) == ("ticket_totals_mismatch", error.message)
    assert hh.book.tickets(staff)[1].refused == ""  # the first one is fine
    hh.close()


def test_refund_states_from_the_server_show_on_my_tickets_and_decide_what_can_be_released(tmp_path: Path) -> None:
    from client_common.device_keys import DeviceKeys
    from client_common.i18n import translator
    from handheld_app.presenters.my_tickets import MyTickets
    from protocol.ids import new_id
    from protocol.sync import EventApplied
    from protocol.tickets import TicketDraft, TicketEvent, TicketLine
    from tests.handheld.fakes import FakeVerifier

    hh = build(tmp_path)
    me, store, counter = uuid.UUID(int=7), uuid.UUID(int=1), uuid.UUID(int=3)
    hh.device.keep(
        DeviceIdentity(
            device_id=me,
            store_id=store,
            store_code="SH01",
            counter_id=counter,
            label="Handheld Apple 1",
            kind="handheld",
            device_token="t",
            server_url="http://127.0.0.1:8000",
        )
    )
    DeviceKeys.create(tmp_path)
    line = TicketLine(
        line_no=1, product_id=counter, sku="K1", name="kettle", qty=2, list_price=100, unit_price=100, line_total=200
    )
    d = TicketDraft(
        id=new_id(), store_id=store, counter_id=counter, number=hh.book.next_number(), lines=[line], total=200
    )
    hh.book.issue(d)
    mine = MyTickets(hh.book, FakeVerifier())
    position = 0

    def server_says(state: str, released: bool = False) -> None:
        nonlocal position
        position += 1
        local = hh.store.ticket(d.id)
        assert local is not None
        ticket = msgspec.structs.replace(local, state=state, released=released)  # type: ignore[arg-type]
        hh.store.persist(EventApplied(TicketEvent(position=position, store_id=store, kind="x", ticket=ticket, at_ms=0)))
        mine.refresh()

    translator.set_language("en")
    try:
        server_says("paid")
        server_says("partly_refunded")  # one kettle came back at the till before the goods left
        (row,) = mine.rows
        assert (row.state, row.state_key, row.can_release) == ("Partly refunded", "partly_refunded", True)
        assert mine.release(d.id)  # the other kettle is handed over
        assert hh.book.ticket(d.id).released  # type: ignore[union-attr]
        server_says("released", released=True)
        server_says("refunded", released=True)  # and returned later
        (row,) = mine.rows
        assert (row.state, row.can_release, row.can_void) == ("Refunded", False, False)
        assert not mine.release(d.id)
        assert mine.message.endswith("is Refunded; its goods cannot be released (again).")
        translator.set_language("zh")
        mine.refresh()
        assert mine.rows[0].state == "已退款"
        server_says("partly_refunded", released=True)
        assert (mine.rows[0].state, mine.rows[0].can_release) == ("部分退款", False)
    finally:
        translator.set_language("en")
