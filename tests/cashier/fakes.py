"""In-memory stand-ins for the till's ports: the real ones are SQLite, HTTP and websockets."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from cashier_app.presenters.ports import (
    Approval,
    BasketLine,
    BasketTicket,
    Charge,
    Customer,
    MemberBalances,
    RefundDone,
    RefundLine,
    Settled,
    SettleRequest,
    ShiftInfo,
    SoldCheckout,
    SoldLine,
    Tender,
    TillContext,
)
from client_common.connection import ConnectionFeed, ConnectionState
from client_common.presenters.ports import Refused, StaffSession, Unreachable
from protocol.payments import Shift as WireShift
from protocol.payments import ShiftReport, TenderKind, TenderLine
from protocol.tickets import Ticket, TicketEvent, TicketLine

STORE = uuid.UUID("01900000-0000-7000-8000-000000000001")
TILL = uuid.UUID("01900000-0000-7000-8000-000000000009")
CONTEXT = TillContext(device_id=TILL, store_id=STORE, refund_approval_limit=50_000)
WANG = uuid.UUID("01900000-0000-7000-8000-00000000a001")
LI = uuid.UUID("01900000-0000-7000-8000-00000000a002")


def tid(n: int) -> uuid.UUID:
    return uuid.UUID(f"01900000-0000-7000-8000-2000000000{n:02d}")


def basket_ticket(
    n: int, total: int, member: uuid.UUID | None = None, counter: str = "C-APL", qr: bool = False
) -> BasketTicket:
    return BasketTicket(
        id=tid(n),
        number=f"SH01-{counter}-H1-{n:06d}",
        total=total,
        lines=(BasketLine(1, f"商品{n}", 1, total, total),),
        member_id=member,
        counter=counter,
        qr=f"FT1:{n:04d}" if qr else "",
    )


# Ticket 1 at Apple and ticket 2 at Sony belong to Wang; ticket 3 has no member; ticket 4 is Li's.
T1 = basket_ticket(1, 599900, WANG, "C-APL")
T2 = basket_ticket(2, 249900, WANG, "C-SNY")
T3 = basket_ticket(3, 19900, None, "C-HOM")
T4 = basket_ticket(4, 10000, LI, "C-HOM")
WANG_BALANCES = MemberBalances(WANG, "王*", "gold", points=12340, points_value=12340, e_coin=5000, stored_value=100000)
LI_BALANCES = MemberBalances(LI, "李*", "", points=0, points_value=0, e_coin=0, stored_value=0)


def online() -> ConnectionFeed:
    feed = ConnectionFeed()
    feed.update(ConnectionState(link="online"))
    return feed


def offline() -> ConnectionFeed:
    feed = ConnectionFeed()
    feed.update(ConnectionState(link="offline"))
    return feed


class FakeReader:
    """Ticket QR text ``FT1:nnnn`` is ticket n as the handheld signed it; anything else is refused."""

    def __init__(self, *tickets: BasketTicket) -> None:
        self.by_qr = {f"FT1:{int(t.number[-6:]):04d}": t for t in tickets}

    def read(self, text: str) -> BasketTicket:
        ticket = self.by_qr.get(text)
        if ticket is None:
            raise ValueError("The ticket's signature does not match; it was altered or is not genuine.")
        return BasketTicket(**{**ticket.__dict__, "qr": text})


class FakeCustomers:
    def __init__(self, tickets: list[BasketTicket] | None = None) -> None:
        self.open = list(tickets if tickets is not None else [T1, T2, T3, T4])
        self.members = {WANG: WANG_BALANCES, LI: LI_BALANCES}
        self.cards = {"M0001": WANG, "13800000001": WANG, "M0002": LI}
        self.reachable = True
        self.unknown: set[uuid.UUID] = set()  # tickets the server has not received yet
        self.calls: list[str] = []

    def _ticket(self, code: str) -> BasketTicket | None:
        for t in self.open:
            if code in (t.number, f"FT1:{int(t.number[-6:]):04d}") and t.id not in self.unknown:
                return t
        return None

    async def find(self, code: str) -> Customer:
        self.calls.append(code)
        if not self.reachable:
            raise Unreachable()
        ticket = self._ticket(code)
        if ticket is not None:
            if ticket.member_id is None:
                return Customer(tickets=(ticket,))
            member_id = ticket.member_id
        elif code in self.cards:
            member_id = self.cards[code]
        else:
            raise Refused("not_found", "No open ticket or member has this code.")
        mine = tuple(t for t in self.open if t.member_id == member_id and t.id not in self.unknown)
        return Customer(tickets=mine, member=self.members[member_id])

    async def member(self, code: str) -> MemberBalances:
        if not self.reachable:
            raise Unreachable()
        if code not in self.cards:
            raise Refused("member_not_found", "No member has this card, code or phone.")
        return self.members[self.cards[code]]


@dataclass
class FakeTerminal:
    """Outcomes by the instrument's last four digits, like the simulated acquirer."""

    charges: list[tuple[uuid.UUID, TenderKind, int, str]] = field(default_factory=list)
    queries: list[uuid.UUID] = field(default_factory=list)
    outcome: dict[uuid.UUID, str] = field(default_factory=dict)  # what a query reports

    async def charge(self, payment_id: uuid.UUID, kind: TenderKind, amount: int, instrument: str) -> Charge:
        self.charges.append((payment_id, kind, amount, instrument))
        tail = instrument[-4:]
        masked = f"**** {tail}"
        if tail == "9995":
            return Charge(payment_id, "declined", decline_reason="insufficient_funds")
        if tail == "0069":
            return Charge(payment_id, "declined", decline_reason="card_expired")
        if tail == "0119":  # charged, but the answer never arrives
            self.outcome[payment_id] = "approved"
            raise Unreachable()
        if tail == "0127":  # lost before the acquirer
            self.outcome[payment_id] = "failed"
            raise Unreachable()
        if tail == "0259":
            self.outcome[payment_id] = "approved"
            return Charge(payment_id, "unknown")
        if tail == "0267":
            self.outcome[payment_id] = "declined"
            return Charge(payment_id, "unknown")
        return Charge(payment_id, "approved", token=f"tok_{tail}", masked=masked)

    async def query(self, payment_id: uuid.UUID) -> Charge:
        self.queries.append(payment_id)
        status = self.outcome.get(payment_id, "failed")
        if status == "approved":
            return Charge(payment_id, "approved", token="tok_q", masked="**** 0000")
        if status == "declined":
            return Charge(payment_id, "declined", decline_reason="do_not_honour")
        return Charge(payment_id, "failed")


class FakeCheckouts:
    def __init__(self) -> None:
        self.settled: list[SettleRequest] = []
        self.outbox: list[SettleRequest] = []
        self.refuse: Refused | None = None
        self.reversed = (0, 0)  # points and e-coin the server takes back
        self.reachable = True

    def _receipt(self, request: SettleRequest, queued: bool) -> Settled:
        tendered = sum(t.amount for t in request.tenders)
        return Settled(
            checkout_id=request.checkout_id,
            receipt_no=f"R-{len(self.settled) + len(self.outbox):04d}",
            ticket_numbers=tuple(t.number for t in request.tickets),
            total=request.total,
            tendered=tendered,
            change=tendered - request.total,
            tenders=request.tenders,
            receipt_qr="FTR1:RECEIPT" + request.checkout_id.hex[:8].upper(),
            points_earned=0 if queued else request.total // 100,
            queued=queued,
        )

    async def settle(self, request: SettleRequest) -> Settled:
        if not self.reachable:
            raise Unreachable()
        if self.refuse is not None:
            raise self.refuse
        self.settled.append(request)
        return self._receipt(request, queued=False)

    def queue(self, request: SettleRequest) -> Settled:
        self.outbox.append(request)
        return self._receipt(request, queued=True)


SUPERVISOR = StaffSession(uuid.UUID(int=14), "刘洋 Liu Yang", "supervisor", STORE)
CASHIER = StaffSession(uuid.UUID(int=12), "陈静 Chen Jing", "cashier", STORE)
SALES = StaffSession(uuid.UUID(int=11), "王芳 Wang Fang", "sales", STORE)


PEOPLE = {("V001", "4444"): SUPERVISOR, ("C001", "2222"): CASHIER, ("S001", "1111"): SALES}


class FakeAuth:
    people = PEOPLE

    async def sign_in(self, staff_code: str, pin: str) -> StaffSession:
        who = self.people.get((staff_code, pin))
        if who is None:
            raise Refused("invalid_credentials", "Staff number or PIN is wrong.")
        return who

    async def check_supervisor(self, staff_code: str, pin: str) -> StaffSession:
        return await self.sign_in(staff_code, pin)


CHECKOUT = uuid.UUID("01900000-0000-7000-8000-00000000c001")
SOLD = SoldCheckout(
    checkout_id=CHECKOUT,
    receipt_no="R-0001",
    total=599900 + 2 * 249900 + 1000,
    lines=(
        SoldLine(tid(1), "SH01-C-APL-H1-000001", 1, "iPhone 16", 1, 1, 599900),
        SoldLine(tid(2), "SH01-C-SNY-H1-000002", 1, "WH-1000XM5", 2, 2, 499800),
        SoldLine(tid(2), "SH01-C-SNY-H1-000002", 2, "Cable", 3, 3, 1000),
    ),
)


class FakeRefunds:
    def __init__(self) -> None:
        self.calls: list[tuple[uuid.UUID, uuid.UUID, tuple[RefundLine, ...], str, Approval | None]] = []
        self.reachable = True
        self.refuse: Refused | None = None
        self.reversed = (0, 0)  # points and e-coin the server takes back

    async def find(self, receipt: str) -> SoldCheckout:
        if receipt in ("R-0001", "FTR1:RECEIPT0001"):
            return SOLD
        raise Refused("not_found", "No sale has this receipt; check the number.")

    async def refund(
        self,
        refund_id: uuid.UUID,
        checkout_id: uuid.UUID,
        lines: tuple[RefundLine, ...],
        reason: str,
        approval: Approval | None,
    ) -> RefundDone:
        self.calls.append((refund_id, checkout_id, lines, reason, approval))
        if not self.reachable:
            raise Unreachable()
        if self.refuse is not None:
            raise self.refuse
        amount = 0
        for line in lines:
            sold = next(s for s in SOLD.lines if (s.ticket_id, s.line_no) == (line.ticket_id, line.line_no))
            amount += sold.line_total * line.qty // sold.qty
        points, e_coin = self.reversed
        return RefundDone(refund_id, amount, (("cash", amount),), points_reversed=points, e_coin_reversed=e_coin)


class FakeShifts:
    def __init__(self) -> None:
        self.opened: dict[uuid.UUID, int] = {}
        self.open_calls: list[uuid.UUID] = []
        self.sales = 0
        self.reachable = True
        self.open_now: ShiftInfo | None = None

    async def current(self) -> ShiftInfo | None:
        return self.open_now

    async def open(self, shift_id: uuid.UUID, float_amount: int) -> ShiftInfo:
        self.open_calls.append(shift_id)
        if not self.reachable:
            raise Unreachable()
        self.opened[shift_id] = float_amount
        self.open_now = ShiftInfo(shift_id, float_amount, 1_700_000_000_000)
        return self.open_now

    def _report(self, shift_id: uuid.UUID, counted: int | None) -> ShiftReport:
        float_amount = self.opened[shift_id]
        expected = float_amount + self.sales
        cash = TenderLine(
            tender="cash",
            sales=self.sales,
            float_amount=float_amount,
            expected=expected,
            counted=counted,
            difference=None if counted is None else counted - expected,
            count=1,
        )
        wire = WireShift(
            id=shift_id,
            store_id=STORE,
            till_id=TILL,
            cashier_id=CASHIER.staff_id,
            status="open" if counted is None else "closed",
            float_amount=float_amount,
            opened_at_ms=1_700_000_000_000,
        )
        return ShiftReport(shift=wire, final=counted is not None, tenders=[cash, TenderLine(tender="card")])

    async def report(self, shift_id: uuid.UUID) -> ShiftReport:
        return self._report(shift_id, None)

    async def close(self, shift_id: uuid.UUID, counted_cash: int) -> ShiftReport:
        self.open_now = None
        return self._report(shift_id, counted_cash)


class FakeTopUps:
    def __init__(self) -> None:
        self.calls: list[tuple[uuid.UUID, uuid.UUID, int, uuid.UUID | None]] = []
        self.balance = 100000
        self.reachable = True
        self.applied: set[uuid.UUID] = set()

    async def top_up(
        self, member_id: uuid.UUID, movement_id: uuid.UUID, amount: int, shift_id: uuid.UUID | None
    ) -> int:
        self.calls.append((member_id, movement_id, amount, shift_id))
        if movement_id not in self.applied:
            self.applied.add(movement_id)
            self.balance += amount
        if not self.reachable:
            raise Unreachable()  # applied, but the answer is lost
        return self.balance


def wire_ticket(n: int, member: uuid.UUID | None, at_ms: int, total: int = 10000, state: str = "issued") -> Ticket:
    return Ticket(
        id=tid(n),
        store_id=STORE,
        counter_id=uuid.UUID(int=100 + n),
        device_id=uuid.UUID(int=200 + n),
        staff_id=None,
        number=f"SH01-C-{n:02d}-H1-{n:06d}",
        lines=[
            TicketLine(
                line_no=1,
                product_id=uuid.UUID(int=n),
                sku="X",
                name="x",
                qty=1,
                list_price=total,
                unit_price=total,
                line_total=total,
            )
        ],
        total=total,
        member_id=member,
        state=state,  # type: ignore[arg-type]
        issued_at_ms=at_ms,
    )


class FakeEvents:
    def __init__(self) -> None:
        self.log: list[TicketEvent] = []
        self.listeners: list[Callable[[TicketEvent], None]] = []
        self.names = {WANG: "王*", LI: "李*"}

    def subscribe(self, listener: Callable[[TicketEvent], None]) -> Callable[[], None]:
        for event in self.log:
            listener(event)
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def member_name(self, member_id: uuid.UUID) -> str:
        return self.names.get(member_id, "")

    def emit(self, kind: str, ticket: Ticket) -> TicketEvent:
        event = TicketEvent(position=len(self.log) + 1, store_id=STORE, kind=kind, ticket=ticket, at_ms=0)
        self.log.append(event)
        for listener in list(self.listeners):
            listener(event)
        return event


def tender_total(tenders: tuple[Tender, ...]) -> int:
    return sum(t.amount for t in tenders)
