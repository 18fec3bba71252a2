"""A till and handhelds with their real wiring against the real server on loopback (``tests.live_server``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

from cashier_app.presenters.basket import Basket
from cashier_app.presenters.shift import ShiftPresenter
from cashier_app.presenters.tenders import Payment
from cashier_app.services import default_till
from cashier_app.wiring import Till, build
from client_common.presenters.ports import StaffSession
from client_common.transport import Backoff
from handheld_app.adapters.members import ServerMembers
from handheld_app.presenters.ticket_builder import TicketBuilder
from handheld_app.services import device_context
from handheld_app.wiring import Handheld
from handheld_app.wiring import build as build_handheld
from protocol.tickets import CommandBatch, IssueTicket
from server.demo import DemoInfo
from tests.live_server import LiveServer

IP16 = "6901234500011"  # iPhone 16, Apple counter, 5,999.00
PURA70 = "6901234500042"  # Huawei Pura 70, Huawei counter, promotion 4,999.00
ZHAO = "13900000001"  # demo member 赵敏 with 1,000.00 of stored value


def fast() -> Backoff:
    return Backoff(base=0.05, cap=0.3)


async def until(check: Callable[[], object], timeout: float = 8, what: str = "") -> None:
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None


def code_for(demo: DemoInfo, label: str) -> str:
    return next(code for lab, _kind, code in demo.enrollment_codes if lab == label)


async def signed_in_till(
    data_dir: Path, live: LiveServer, demo: DemoInfo, **options: object
) -> tuple[Till, StaffSession]:
    """Till 1 enrolled, cashier C001 signed in, syncing and online."""
    till = build(data_dir, backoff=fast, flush_every=0.2, **options)  # type: ignore[arg-type]
    await till.services.enroller.enroll(live.url, code_for(demo, "Till 1"))
    session = await till.services.auth.sign_in("C001", "3333")
    await till.services.start_sync(session)
    await until(lambda: till.services.connection.state.online, what="till online")
    await until(lambda: till.sync.catalog.loads >= 1, what="till catalog")
    return till, session


def presenters(till: Till) -> tuple[Basket, Payment, ShiftPresenter]:
    s = till.services
    me = s.enroller.enrolled()
    assert me is not None
    basket = Basket(s.reader, s.customers, s.connection)
    payment = Payment(basket, s.terminal, s.checkouts, s.connection, default_till(me))
    return basket, payment, ShiftPresenter(s.shifts, s.connection)


class Counter:
    """A handheld at a counter whose tickets reach the server only when ``upload`` sends them through
    ``POST /sync/commands`` (its websocket sync is never started): a customer may carry one the server
    has never seen."""

    def __init__(self, hh: Handheld, session: StaffSession) -> None:
        self.hh = hh
        self.session = session
        self.members = ServerMembers(hh.auth)

    @classmethod
    async def enrolled(cls, data_dir: Path, live: LiveServer, demo: DemoInfo, label: str) -> Counter:
        hh = build_handheld(data_dir, backoff=fast)
        await hh.services.enroller.enroll(live.url, code_for(demo, label))
        session = await hh.services.auth.sign_in("S001", "1111")
        api = hh.device.api()
        try:
            await api.load_catalog(hh.store)
        finally:
            await api.aclose()
        return cls(hh, session)

    async def issue(self, barcode: str, member_phone: str | None = None, qty: int = 1) -> tuple[uuid.UUID, str]:
        """Issue a ticket on the handheld; its id and the signed QR the customer carries."""
        me = self.hh.services.enroller.enrolled()
        assert me is not None
        builder = TicketBuilder(self.hh.book, self.hh.auth, device_context(me))
        builder.staff = self.session
        item = self.hh.services.catalog.by_code(barcode)
        assert item is not None
        builder.add(item, qty)
        if member_phone:
            builder.attach(await self.members.find(member_phone))
        ticket = builder.issue()
        assert ticket is not None
        return ticket.id, ticket.qr

    async def upload(self) -> None:
        """The handheld's outbox through ``POST /sync/commands``."""
        api = self.hh.device.api()
        try:
            result = await api.upload(CommandBatch(commands=self.hh.store.outbox()))
        finally:
            await api.aclose()
        assert all(r.status in ("applied", "replayed") for r in result.results), result
        assert all(isinstance(c, IssueTicket) for c in self.hh.store.outbox())

    def close(self) -> None:
        self.hh.close()
