"""Simulated tills for the fault simulation: the till's real wiring (device store, HTTP API, websocket sync,
device keys, the outbox of offline checkouts) and its real presenters (basket, payment, shift), driven by a
cashier who serves the customers the handhelds made, whatever the network and the servers do. Customers pay
with their balances, by card through the payment provider simulator (declines and "unknown" answers
included: the cashier asks again until the provider tells), and with cash.

What every call told the cashier is written down (``Recorded``), so the end of the simulation can hold the
database to it: nothing the till was told is settled may be missing, and nothing may be settled that the
till does not know about.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cashier_app.adapters.checkouts import TRANSIENT, TillCheckouts
from cashier_app.presenters.basket import Basket
from cashier_app.presenters.ports import Settled, SettleRequest
from cashier_app.presenters.shift import ShiftPresenter
from cashier_app.presenters.tenders import Payment
from cashier_app.services import default_till
from cashier_app.wiring import Till, build
from client_common.presenters.ports import Refused, Unreachable
from client_common.transport import Backoff
from protocol.payments import TenderKind
from tests.faults.proxy import TcpProxy

HTTP_TIMEOUT_S = 2.0  # a till gives up on an answer after this long and says "offline"

# Cards the customers hand over, in turn across the store (the payment provider simulator's test numbers,
# docs/payments.md): approved, declined, or answered "unknown" and resolved either way by a later query. The
# first two card customers of a run already meet an unknown answer, an approval and a decline.
CARDS = (
    "4000000000000259",  # unknown, then approved
    "4000000000009995",  # declined: insufficient funds
    "4111111111111111",  # approved
    "4000000000000267",  # unknown, then declined
    "4111111111111111",
    "4000000000000069",  # declined: card expired
    "4111111111111111",
)
LEAVES_AFTER_CARD = 2  # the till's second customer whose card was approved changes their mind and leaves


def fast() -> Backoff:
    return Backoff(base=0.05, cap=0.5)


def yuan(fen: int) -> str:
    """Fen as the cashier types it (exact: no floats)."""
    return f"{fen // 100}.{fen % 100:02d}"


@dataclass
class Carried:
    """A ticket QR a customer holds (the handheld showed it as the ticket was issued)."""

    ticket_id: uuid.UUID
    qr: str


@dataclass
class Shoppers:
    """The customers in the store: each one (a member, or a walk-in) carries the QRs of their open tickets
    and goes to one till at a time with all of them."""

    carried: dict[object, list[Carried]] = field(default_factory=dict)
    busy: set[object] = field(default_factory=set)
    paid: list[Carried] = field(default_factory=list)  # tickets a till told its customer were paid
    cards: int = 0  # cards handed over so far

    def next_card(self) -> str:
        self.cards += 1
        return CARDS[(self.cards - 1) % len(CARDS)]

    def bought(self, customer: object, ticket: Carried) -> None:
        self.carried.setdefault(customer, []).append(ticket)

    def walk_in(self, rng: random.Random) -> object:
        """A walk-in customer: mostly a new one, sometimes one still shopping at another counter."""
        waiting = [c for c in self.carried if isinstance(c, str) and c not in self.busy]
        return rng.choice(waiting) if waiting and rng.random() < 0.3 else f"walk-in-{len(self.carried)}"

    def next_visit(self, rng: random.Random) -> tuple[object, list[Carried]] | None:
        ready = [c for c, tickets in self.carried.items() if tickets and c not in self.busy]
        if not ready:
            return None
        customer = rng.choice(ready)
        self.busy.add(customer)
        return customer, self.carried.pop(customer)

    def left(self, customer: object) -> None:
        self.busy.discard(customer)


@dataclass
class Recorded:
    """What the till's ``Checkouts`` answered, per checkout id."""

    settled: dict[uuid.UUID, tuple[SettleRequest, Settled]] = field(default_factory=dict)  # answered online
    queued: dict[uuid.UUID, tuple[SettleRequest, Settled]] = field(default_factory=dict)  # kept in the outbox
    refused: dict[uuid.UUID, str] = field(default_factory=dict)
    unanswered: set[uuid.UUID] = field(default_factory=set)
    last: str = ""  # "settled", "queued", "refused:<code>", "unreachable" or "" (nothing was tried)


class RecordingCheckouts:
    """The till's real ``Checkouts`` with every answer written down."""

    def __init__(self, inner: TillCheckouts, recorded: Recorded) -> None:
        self._inner = inner
        self._recorded = recorded

    async def settle(self, request: SettleRequest) -> Settled:
        r = self._recorded
        try:
            settled = await self._inner.settle(request)
        except Refused as exc:
            r.refused[request.checkout_id] = exc.code
            r.last = "refused:" + exc.code
            raise
        except Unreachable:
            r.unanswered.add(request.checkout_id)
            r.last = "unreachable"
            raise
        r.settled[request.checkout_id] = (request, settled)
        r.last = "settled"
        return settled

    def queue(self, request: SettleRequest) -> Settled:
        settled = self._inner.queue(request)
        self._recorded.queued[request.checkout_id] = (request, settled)
        self._recorded.last = "queued"
        return settled


@dataclass
class SimTill:
    """One till and its cashier."""

    name: str
    till: Till
    proxy: TcpProxy
    rng: random.Random
    recorded: Recorded
    basket: Basket
    payment: Payment
    shift: ShiftPresenter
    float_amount: int
    gave_up: int = 0  # customers who left unpaid after a refusal
    spent_balance: bool = False  # a member of this till has paid with a balance
    card_outcomes: Counter[str] = field(default_factory=Counter)  # first answers to card charges
    cards_taken: int = 0  # card charges approved (first answer or after asking again)
    to_give_back: list[tuple[uuid.UUID, int]] = field(default_factory=list)  # card payments of customers who left

    @classmethod
    async def open(
        cls, data_dir: Path, name: str, proxy: TcpProxy, enrollment_code: str, rng: random.Random
    ) -> SimTill:
        """Enrolled through its proxy, cashier C001 signed in, syncing, with an open shift."""
        till = build(
            data_dir,
            backoff=fast,
            flush_every=0.2,
            catalog_every=3600.0,
            ping_interval=0.5,
            ping_timeout=1.0,
            open_timeout=1.0,
            close_timeout=0.5,
        )
        till.device.timeout = HTTP_TIMEOUT_S
        s = till.services
        await s.enroller.enroll(f"http://127.0.0.1:{proxy.port}", enrollment_code)
        session = await s.auth.sign_in("C001", "3333")
        await s.start_sync(session)
        async with asyncio.timeout(10):
            while not (s.connection.state.online and till.sync.catalog.loads >= 1):
                await asyncio.sleep(0.02)
        me = s.enroller.enrolled()
        assert me is not None
        recorded = Recorded()
        basket = Basket(s.reader, s.customers, s.connection)
        payment = Payment(
            basket, s.terminal, RecordingCheckouts(till.checkouts, recorded), s.connection, default_till(me)
        )
        shift = ShiftPresenter(s.shifts, s.connection)
        float_amount = 50_000
        assert await shift.open(yuan(float_amount)), shift.message
        assert shift.shift is not None
        payment.shift_id = shift.shift.shift_id
        return cls(name, till, proxy, rng, recorded, basket, payment, shift, float_amount)

    @property
    def device_id(self) -> uuid.UUID:
        identity = self.till.device.identity
        assert identity is not None
        return identity.device_id

    @property
    def online(self) -> bool:
        return self.till.services.connection.state.online

    def idle(self, head: int) -> bool:
        """Online, nothing left in either outbox, and the store's whole log received."""
        return (
            self.online
            and self.till.store.outbox_count() == 0
            and self.till.checkouts.waiting() == 0
            and self.till.store.position == head
        )

    def view(self) -> dict[uuid.UUID, str]:
        return {t.id: t.state for t in self.till.store.confirmed_tickets()}

    async def work(self, shoppers: Shoppers, until: float) -> None:
        """Serve customers until ``until`` (monotonic); the last one is served to the end."""
        while time.monotonic() < until:
            visit = shoppers.next_visit(self.rng)
            if visit is None:
                await asyncio.sleep(0.05)
                continue
            customer, tickets = visit
            try:
                await self.serve(shoppers, tickets)
            finally:
                shoppers.left(customer)
            await asyncio.sleep(self.rng.uniform(0.01, 0.1))

    async def serve(self, shoppers: Shoppers, tickets: list[Carried]) -> None:
        p, b = self.payment, self.basket
        p.next_customer()
        codes = [t.qr for t in tickets]
        if shoppers.paid and self.rng.random() < 0.05:
            codes.append(self.rng.choice(shoppers.paid).qr)  # a ticket already paid, shown again
        for code in codes:
            await b.scan(code)
        if not b.tickets:
            return
        self._spend_balance()
        settled = await self._settle(shoppers)
        if settled is None:
            self.gave_up += 1
            # The customer leaves: what their card was charged is theirs to be given back.
            cards = [t for t in self.payment.tenders if t.kind == "card" and not t.terminal_ref]
            self.to_give_back += [(t.id, t.amount) for t in cards]
            return
        shoppers.paid.extend(Carried(t.id, t.qr) for t in b.tickets if t.qr)

    def _spend_balance(self) -> None:
        """Some of the member's stored value or points (the till offers them online only)."""
        p = self.payment
        member = p.basket.member
        # every till's first member who can spends a balance, so even a short run has balance tenders
        if member is None or (self.spent_balance and self.rng.random() >= 0.6):
            return
        kinds: list[TenderKind] = ["stored_value", "points"]
        self.rng.shuffle(kinds)
        for kind in kinds:
            spendable = member.spendable(kind) or 0
            if not p.unavailable(kind) and spendable > 0:
                most = min(spendable, p.remaining)
                amount = most if self.rng.random() < 0.3 else self.rng.randint(1, most)
                assert p.add_balance(kind, yuan(amount)), p.message
                self.spent_balance = True
                return

    async def _card_for_some(self, shoppers: Shoppers) -> bool:
        """Sometimes (online) a card through the payment provider for all or part of what remains. A lost or
        "unknown" answer is asked about again (same payment id) until the provider tells. False when the
        customer changes their mind after the card was charged and leaves."""
        p = self.payment
        # Not while the link is cut: the till notices a cut only after a ping timeout, and a card still waiting
        # for its answer holds the customer at the till for the whole cut, so nobody would be served offline.
        # Cards still meet delayed, slow and half-open links, server kills, and cuts that begin mid-payment.
        link_cut = self.proxy.faults.reset
        if not p.remaining or not self.online or link_cut or p.unavailable("card") or self.rng.random() >= 0.6:
            return True
        amount = p.remaining if self.rng.random() < 0.6 else self.rng.randint(1, p.remaining)
        before = len(p.tenders)
        await p.take_card("card", shoppers.next_card(), yuan(amount))
        if p.pending is not None:
            self.card_outcomes["unknown"] += 1
        elif len(p.tenders) > before:
            self.card_outcomes["approved"] += 1
        else:
            self.card_outcomes["not taken"] += 1  # declined (or refused before any charge)
        while p.pending is not None:
            await asyncio.sleep(self.rng.uniform(0.05, 0.3))
            await p.check_pending()
        if len(p.tenders) > before:
            self.cards_taken += 1
            return self.cards_taken != LEAVES_AFTER_CARD
        return True

    def _cash_for_the_rest(self) -> None:
        """Cash for what remains: exact, or rounded up to hundreds of yuan (change given)."""
        p = self.payment
        if not p.remaining or p.unavailable("cash"):
            return  # e.g. offline with tickets the server found (no QR): wait for the link
        if self.rng.random() < 0.5:
            assert p.add_cash(""), p.message
        else:
            handed = -(-p.remaining // 10_000) * 10_000 + self.rng.choice([0, 10_000])
            assert p.add_cash(yuan(handed)), p.message

    async def _settle(self, shoppers: Shoppers) -> Settled | None:
        """Press Settle until the till has an answer: a lost answer is asked again with the same checkout id
        (the presenter keeps it); a refusal that says "not now" is tried again as a new checkout."""
        p = self.payment
        while True:
            if not await self._card_for_some(shoppers):
                return None
            self._cash_for_the_rest()
            self.recorded.last = ""
            settled = await p.settle()
            if settled is not None:
                return settled
            last = self.recorded.last
            if last.startswith("refused:") and last.removeprefix("refused:") not in TRANSIENT:
                return None  # refused for good (a ticket voided or paid meanwhile): the customer leaves
            await asyncio.sleep(self.rng.uniform(0.05, 0.3))

    async def stop(self) -> None:
        await self.till.services.stop_sync()
        self.till.close()


def acknowledged(tills: Iterable[SimTill]) -> dict[uuid.UUID, tuple[SimTill, SettleRequest, Settled]]:
    """Every checkout a till was told is settled, online or kept in its outbox."""
    out: dict[uuid.UUID, tuple[SimTill, SettleRequest, Settled]] = {}
    for t in tills:
        for checkout_id, (request, settled) in (t.recorded.queued | t.recorded.settled).items():
            out[checkout_id] = (t, request, settled)
    return out
