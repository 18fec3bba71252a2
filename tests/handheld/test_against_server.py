"""The handheld's real wiring (SQLite store, HTTP API, websocket transport, device keys) against the real
server on loopback with the demo store: enroll, sign in, load the catalog, sell, see paid/voided come
back live; the server going away; the app killed mid-issue."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
from nacl.signing import SigningKey

from client_common.api import Api
from client_common.connection import describe
from client_common.transport import Backoff
from handheld_app.presenters.member import MemberPresenter
from handheld_app.presenters.my_tickets import MyTickets
from handheld_app.presenters.ticket_builder import TicketBuilder
from handheld_app.services import device_context
from handheld_app.wiring import Handheld, build
from protocol.ids import new_id
from protocol.qr import verify_ticket
from protocol.receipts import ReceiptPayload, ReceiptTicket, sign_receipt
from server.demo import DemoInfo
from server.tickets import service as tickets
from tests.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
XM5 = "6901234500073"  # Sony WH-1000XM5 at the Sony counter
IP16 = "6901234500011"  # iPhone 16 at the Apple counter


def fast() -> Backoff:
    return Backoff(base=0.05, cap=0.3)


async def until(check: Callable[[], object], timeout: float = 8, what: str = "") -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def code_for(demo: DemoInfo, label: str) -> str:
    return next(code for lab, _kind, code in demo.enrollment_codes if lab == label)


async def enrolled(data_dir: Path, live: LiveServer, demo: DemoInfo, label: str = "Handheld Apple 1") -> Handheld:
    hh = build(data_dir, backoff=fast)
    await hh.services.enroller.enroll(live.url, code_for(demo, label))
    return hh


async def server_key(conn: asyncpg.Connection, device_id: uuid.UUID) -> bytes:
    key = await conn.fetchval("SELECT public_key FROM device WHERE id = $1", device_id)
    return bytes(key) if isinstance(key, bytes) else base64.b64decode(key)


async def test_enroll_sign_in_sell_and_see_paid_and_voided_come_back_live(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    hh = await enrolled(tmp_path / "hh", live, demo)
    s = hh.services
    me = s.enroller.enrolled()
    assert me is not None
    assert me.store_id == demo.store_id
    session = await s.auth.sign_in("S001", "1111")
    assert session.role == "sales"
    await s.start_sync(session)
    await until(lambda: hh.sync.catalog.loads >= 1, what="catalog loaded")
    await until(lambda: s.connection.state.online, what="online")

    # Sell through the real presenters: scan, supervisor price override, member by phone, issue.
    builder = TicketBuilder(s.book, s.auth, device_context(me))
    builder.staff = session
    item = s.catalog.by_code(IP16)
    assert item is not None
    assert item.sku == "APL-IP16"
    assert [i.sku for i in s.catalog.search("Pura", 10)] == ["HUA-P70"]
    builder.add(item)
    assert builder.request_override(0, "5800")
    assert not await builder.approve("S002", "2222"), "a sales colleague cannot approve a price"
    assert await builder.approve("V001", "4444")
    member = MemberPresenter(s.members)
    card = await member.lookup("13900000001")
    assert card is not None
    assert card.name.startswith("赵")
    assert card.points > 0, "the demo member earned points on a past purchase"
    builder.attach(card)
    local = builder.issue()
    assert local is not None
    assert local.total == 580000

    await until(lambda: await_state(hh, local.id, "issued") and s.connection.state.outbox == 0, what="acknowledged")
    row = await conn.fetchrow("SELECT state, total, member_id, number FROM ticket WHERE id = $1", local.id)
    assert dict(row) == {"state": "issued", "total": 580000, "member_id": card.member_id, "number": local.number}
    assert await conn.fetchval("SELECT count(*) FROM applied_command WHERE command_id = $1", local.id) == 1
    key = await server_key(conn, me.device_id)
    verified = verify_ticket(local.qr, lambda d: key if d == me.device_id else None)
    assert verified.command.ticket.id == local.id
    assert verified.command.ticket.total == 580000

    # Paid by a checkout on the server: the handheld sees it live and releases the goods.
    mine = MyTickets(s.book, s.verifier)
    mine.staff = session
    async with conn.transaction():
        await tickets.mark_paid(conn, demo.store_id, [local.id], new_id())
    await until(lambda: hh.book.ticket(local.id).state == "paid", what="paid arrives")  # type: ignore[union-attr]
    mine.refresh()
    assert mine.rows[0].can_release
    assert mine.release(local.id)
    await until(lambda: hh.book.ticket(local.id).synced, what="release acknowledged")  # type: ignore[union-attr]
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", local.id) == "released"

    # A second ticket voided on the handheld: voided on the server, confirmed back.
    builder.add(item)
    second = builder.issue()
    assert second is not None
    await until(lambda: hh.book.ticket(second.id).synced, what="second acknowledged")  # type: ignore[union-attr]
    mine.refresh()
    assert mine.void(second.id, "customer changed mind")
    await until(lambda: await_state(hh, second.id, "voided"), what="void confirmed")
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", second.id) == "voided"
    assert await conn.fetchval("SELECT count(*) FROM ticket WHERE id = ANY($1)", [local.id, second.id]) == 2
    assert s.connection.state.dead_letters == ()
    await s.stop_sync()
    hh.close()


def await_state(hh: Handheld, ticket_id: uuid.UUID, state: str) -> bool:
    t = hh.book.ticket(ticket_id)
    return t is not None and t.state == state and t.synced


async def test_offline_three_tickets_wait_in_the_outbox_and_arrive_once(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    hh = await enrolled(tmp_path / "hh", live, demo, "Handheld Huawei 1")
    s = hh.services
    me = s.enroller.enrolled()
    assert me is not None
    session = await s.auth.sign_in("S001", "1111")
    await s.start_sync(session)
    await until(lambda: hh.sync.catalog.loads >= 1 and s.connection.state.online)
    item = s.catalog.by_code("6901234500042")  # Huawei Pura 70 at this handheld's counter
    assert item is not None

    await asyncio.to_thread(live.stop)
    await until(lambda: s.connection.state.link == "offline", what="offline shown")
    builder = TicketBuilder(s.book, s.auth, device_context(me))
    builder.staff = session
    issued = []
    for qty in (1, 2, 3):
        builder.add(item, qty)
        t = builder.issue()
        assert t is not None
        issued.append(t.id)
    assert hh.store.outbox_count() == 3
    assert s.connection.state.outbox == 3
    assert not any(t.synced for t in s.book.tickets(session.staff_id))
    assert await conn.fetchval("SELECT count(*) FROM ticket WHERE id = ANY($1)", issued) == 0

    await asyncio.to_thread(live.start)
    # The tickets' events and the commands' acknowledgements come in either order: wait for both.
    await until(
        lambda: all(await_state(hh, tid, "issued") for tid in issued) and s.connection.state.outbox == 0,
        what="all three applied and acknowledged",
    )
    assert s.connection.state.online
    rows = await conn.fetch("SELECT id, total FROM ticket WHERE id = ANY($1) ORDER BY number", issued)
    expected = [(tid, qty * 499900) for tid, qty in zip(issued, (1, 2, 3), strict=True)]
    assert [(r["id"], r["total"]) for r in rows] == expected
    assert await conn.fetchval("SELECT count(*) FROM applied_command WHERE command_id = ANY($1)", issued) == 3
    await s.stop_sync()
    hh.close()


async def test_killed_mid_issue_the_tickets_are_there_once_and_sync_once(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    data = tmp_path / "hh"
    hh = await enrolled(data, live, demo)
    device_id = hh.device.identity.device_id  # type: ignore[union-attr]
    hh.close()

    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("issue_live.py")), str(data)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    printed: list[uuid.UUID] = []
    assert proc.stdout is not None
    try:
        while len(printed) < 25:
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line, proc.stderr.read() if proc.stderr else "the issuing process ended"
            if line.startswith("issued "):
                printed.append(uuid.UUID(line.split()[1]))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    hh = build(data, backoff=fast)
    local = {t.id: t for t in hh.book.tickets(None)}
    assert set(printed) <= set(local), "every ticket whose issue returned is still there"
    assert len(local) >= len(printed)
    await hh.sync.start()
    await until(lambda: hh.store.outbox_count() == 0 and all(t.synced for t in hh.book.tickets(None)), timeout=8)
    on_server = await conn.fetch("SELECT id FROM ticket WHERE device_id = $1", device_id)
    assert {r["id"] for r in on_server} == set(local), "the server has exactly the device's tickets"
    counts = await conn.fetch(
        "SELECT command_id, count(*) AS n FROM applied_command WHERE command_id = ANY($1) GROUP BY command_id",
        list(local),
    )
    assert {r["command_id"] for r in counts} == set(local)
    assert all(r["n"] == 1 for r in counts)
    seqs = await conn.fetch(
        "SELECT device_seq FROM applied_command WHERE device_id = $1 ORDER BY device_seq", device_id
    )
    assert [r["device_seq"] for r in seqs] == list(range(1, len(local) + 1)), "no gap, no duplicate"
    await hh.sync.stop()
    hh.close()


async def test_offline_release_against_the_customers_receipt_signed_by_a_till_of_the_store(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    till_key = SigningKey.generate()
    till_api = Api(live.url)
    till = await till_api.enroll(code_for(demo, "Till 1"), bytes(till_key.verify_key))
    await till_api.aclose()
    till_id = uuid.UUID(till["device_id"])

    hh = await enrolled(tmp_path / "hh", live, demo)
    s = hh.services
    me = s.enroller.enrolled()
    assert me is not None
    session = await s.auth.sign_in("S001", "1111")
    await s.start_sync(session)
    await until(lambda: hh.sync.catalog.loads >= 1 and str(till_id) in hh.store.get("till_keys", {}))
    builder = TicketBuilder(s.book, s.auth, device_context(me))
    builder.staff = session
    item = s.catalog.by_code(IP16)
    assert item is not None
    builder.add(item)
    sold = builder.issue()
    assert sold is not None
    await until(lambda: await_state(hh, sold.id, "issued") and s.connection.state.outbox == 0)

    # The handheld loses the server; the customer pays at the till meanwhile and brings the receipt.
    await asyncio.to_thread(live.stop)
    async with conn.transaction():
        await tickets.mark_paid(conn, demo.store_id, [sold.id], new_id())
    payload = ReceiptPayload(
        receipt_no="R-000001",
        store_id=demo.store_id,
        checkout_id=new_id(),
        tickets=[ReceiptTicket(sold.id, sold.number, sold.total)],
        total=sold.total,
        paid=sold.total,
        at=int(time.time()),
        signer=till_id,
    )
    mine = MyTickets(s.book, s.verifier)
    mine.staff = session
    forged = sign_receipt(payload, SigningKey.generate())
    assert mine.release_by_receipt(forged) == []
    assert "cannot be trusted" in mine.message
    released = mine.release_by_receipt(sign_receipt(payload, till_key))
    assert [t.id for t in released] == [sold.id]
    assert hh.book.ticket(sold.id).state == "released"  # type: ignore[union-attr]
    assert s.connection.state.outbox == 1

    await asyncio.to_thread(live.start)
    await until(lambda: await_state(hh, sold.id, "released") and s.connection.state.outbox == 0)
    assert await conn.fetchval("SELECT state FROM ticket WHERE id = $1", sold.id) == "released"
    await s.stop_sync()
    hh.close()


async def test_a_revoked_handheld_says_so_and_what_to_do(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    hh = await enrolled(tmp_path / "hh", live, demo)
    s = hh.services
    me = s.enroller.enrolled()
    assert me is not None
    session = await s.auth.sign_in("S001", "1111")
    await s.start_sync(session)
    await until(lambda: hh.sync.catalog.loads >= 1 and s.connection.state.online)

    manager = Api(live.url)
    signed_in = await manager.http.post("/auth/sign-in", json={"staff_code": "M001", "password": "manager-demo"})
    token = signed_in.json()["access_token"]
    revoked = await manager.http.post(f"/devices/{me.device_id}/revoke", headers={"Authorization": f"Bearer {token}"})
    await manager.aclose()
    assert revoked.status_code == 200, revoked.text

    builder = TicketBuilder(s.book, s.auth, device_context(me))
    builder.staff = session
    item = s.catalog.by_code(IP16)
    assert item is not None
    builder.add(item)
    kept = builder.issue()
    assert kept is not None
    await until(lambda: s.connection.state.dead_letters, what="refusal shown")
    bar = describe(s.connection.state)
    assert bar.status == "Offline – tickets are kept and sent later"
    assert bar.outbox == "1 waiting to send", "the ticket stays in the outbox for after re-enrollment"
    assert bar.details == (
        "This handheld: This device has been revoked; ask a manager to enroll it again."
        " — This device was revoked: ask a manager to enroll it again.",
    )
    assert await conn.fetchval("SELECT count(*) FROM ticket WHERE id = $1", kept.id) == 0
    await s.stop_sync()
    hh.close()


async def test_an_outbox_left_from_an_earlier_session_flows_at_start_and_a_refused_ticket_shows_why(
    live: LiveServer, demo: DemoInfo, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    from protocol.tickets import TicketDraft, TicketLine

    data = tmp_path / "hh"
    hh = await enrolled(data, live, demo)
    me = hh.services.enroller.enrolled()
    assert me is not None
    assert me.counter_id is not None
    session = await hh.services.auth.sign_in("S001", "1111")
    product = await conn.fetchval("SELECT id FROM product WHERE sku = 'APL-IP16'")

    def draft(total: int) -> TicketDraft:
        line = TicketLine(
            line_no=1,
            product_id=product,
            sku="APL-IP16",
            name="iPhone 16",
            qty=1,
            list_price=599900,
            unit_price=599900,
            line_total=599900,
        )
        return TicketDraft(
            id=new_id(),
            store_id=me.store_id,
            counter_id=me.counter_id,  # type: ignore[arg-type]
            number=hh.book.next_number(),
            lines=[line],
            total=total,
            staff_id=session.staff_id,
            issued_at_ms=int(time.time() * 1000),
        )

    good = hh.book.issue(draft(599900))
    bad = hh.book.issue(draft(1))  # its lines do not add up: the server refuses it
    assert hh.store.outbox_count() == 2
    hh.close()  # the app stops before it synced

    again = build(data, backoff=fast)  # the next start: nobody signs in
    mine = MyTickets(again.services.book, again.services.verifier)
    await again.services.start_sync(None)
    await until(lambda: await_state(again, good.id, "issued"), what="the earlier session's ticket arrives")
    await until(lambda: again.store.outbox_count() == 0 and again.services.connection.state.dead_letters)
    assert await conn.fetchval("SELECT count(*) FROM ticket WHERE id = ANY($1)", [good.id, bad.id]) == 1

    await until(lambda: any(r.state == "Refused" for r in mine.rows), what="the list redraws with the refusal")
    rows = {r.ticket.id: r for r in mine.rows}
    assert rows[good.id].state == "Issued"
    assert rows[bad.id].state == "Refused"
    assert rows[bad.id].detail.endswith(
        "refused by the server: The ticket total is 1 fen but its lines add up to 599900 fen."
    )
    assert not rows[bad.id].can_void
    await again.services.stop_sync()
    again.close()
