"""The till's ports that are plain server calls with the signed-in cashier's token: customers and their
balances, card and wallet payments, refunds, shifts and stored-value top-ups.

Every call goes through ``StaffAuth.authorised`` (token refreshed once on 401); failures cross as
``Refused`` (the server's code and sentence) or ``Unreachable``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from cashier_app.adapters import scanned
from cashier_app.presenters.ports import (
    Approval,
    BasketLine,
    BasketTicket,
    Charge,
    Customer,
    MemberBalances,
    RefundDone,
    RefundLine,
    ShiftInfo,
    SoldCheckout,
    SoldLine,
    Tender,
    TicketQrReader,
    UnknownIssuer,
)
from client_common.adapters.identity import Device, port_error
from client_common.adapters.staff import StaffAuth
from client_common.adapters.sync import KeyDirectory
from client_common.api import Api, ApiError
from client_common.presenters.ports import Refused
from protocol.checkout import (
    CheckoutForRefund,
    CustomerTickets,
    RefundLineRequest,
    RefundRequest,
    RefundResult,
    SupervisorApproval,
)
from protocol.members import Balances, Member, MemberCodes, MemberLookup, TopUp, TopUpResult
from protocol.payments import ChargeRequest, CloseShift, OpenShift, Payment, PaymentCodes, Shift, ShiftReport
from protocol.payments import TenderKind as PaymentTenderKind
from protocol.qr import PREFIX as TICKET_QR_PREFIX
from protocol.qr import PublicKeys
from protocol.tickets import Ticket

T = TypeVar("T")

TERMINAL = "terminal:"
"""A refund share's reference when the card was charged on a standalone terminal (given back there)."""

POINTS_PER_YUAN = 100
"""Points that pay one yuan, as the server's ``FT_POINTS_PER_YUAN`` default: what the till assumes until
it has read the store's settings (``GET /api/device/till-settings``); the server decides when paying."""


def points_value(points: int, points_per_yuan: int = POINTS_PER_YUAN) -> int:
    """Fen that ``points`` pay for (whole fen, rounded down)."""
    return points * 100 // points_per_yuan


class StaffCalls:
    """Calls with the signed-in person's token."""

    def __init__(self, auth: StaffAuth) -> None:
        self._auth = auth

    async def call(
        self,
        method: str,
        path: str,
        answer: type[T],
        body: msgspec.Struct | None = None,
        params: dict[str, str] | None = None,
    ) -> T:
        async def run(api: Api, token: str) -> T:
            return await api.staff_call(token, method, path, answer, body=body, params=params)

        return await self._auth.authorised(run)


def basket_ticket(ticket: Ticket, qr: str = "", counter: str = "") -> BasketTicket:
    return BasketTicket(
        id=ticket.id,
        number=ticket.number,
        total=ticket.total,
        lines=tuple(
            BasketLine(line.line_no, line.name or line.sku, line.qty, line.unit_price, line.line_total)
            for line in ticket.lines
        ),
        member_id=ticket.member_id,
        counter=counter,
        qr=qr,
    )


class ServerCustomers(StaffCalls):
    """``Customers`` over ``/checkouts/open-tickets`` and ``/api/members``.

    A scanned ticket the server does not know yet (its handheld is offline) is uploaded from its code and
    asked for again, so the customer's other tickets still come with it. Remembers the masked names it
    showed, for the live queue.
    """

    def __init__(
        self,
        auth: StaffAuth,
        device: Device,
        reader: TicketQrReader,
        keys: KeyDirectory,
        points_per_yuan: int | Callable[[], int] = POINTS_PER_YUAN,
    ) -> None:
        super().__init__(auth)
        self._device = device
        self._reader = reader
        self._keys: PublicKeys = keys
        self._directory = keys
        # the store's points value as the server last gave it (it changes on reconnect)
        self._points_per_yuan = points_per_yuan if callable(points_per_yuan) else (lambda: points_per_yuan)
        self.names: dict[uuid.UUID, str] = {}

    async def find(self, code: str) -> Customer:
        code = code.strip()
        if code.startswith(TICKET_QR_PREFIX):
            scanned_ticket = await self._read(code)
            found = await self._tickets_of_scanned(scanned_ticket.id, code)
            tickets = tuple(basket_ticket(t, code if t.id == scanned_ticket.id else "") for t in found.tickets)
        else:
            found = await self.call("GET", "/checkouts/open-tickets", CustomerTickets, params={"member_code": code})
            tickets = tuple(basket_ticket(t) for t in found.tickets)
        member = await self.balances(found.member_id) if found.member_id else None
        return Customer(tickets=tickets, member=member)

    async def _read(self, code: str) -> BasketTicket:
        try:
            try:
                return self._reader.read(code)
            except UnknownIssuer:
                await self._refresh_keys()  # a handheld enrolled since the last refresh
                return self._reader.read(code)
        except ValueError as exc:
            raise Refused("qr_refused", str(exc)) from None

    async def _refresh_keys(self) -> None:
        try:
            await self._directory.refresh(self._device)
        except ApiError as exc:
            raise port_error(exc) from None

    async def _tickets_of_scanned(self, ticket_id: uuid.UUID, qr: str) -> CustomerTickets:
        params = {"ticket_id": str(ticket_id)}
        try:
            return await self.call("GET", "/checkouts/open-tickets", CustomerTickets, params=params)
        except Refused as exc:
            if exc.code != "not_found":
                raise
        await scanned.upload(self._device, self._keys, [qr])  # the handheld has not sent it yet
        return await self.call("GET", "/checkouts/open-tickets", CustomerTickets, params=params)

    async def member(self, code: str) -> MemberBalances:
        text = code.strip()
        tries = [MemberLookup(phone=text)] if text.isdigit() and len(text) == 11 else []
        tries += [MemberLookup(code=text), MemberLookup(card=text)]
        for lookup in tries:
            try:
                found = await self.call("POST", "/api/members/lookup", Member, body=lookup)
            except Refused as exc:
                if exc.code == MemberCodes.MEMBER_NOT_FOUND:
                    continue
                raise
            return await self.balances(found.id, found)
        raise Refused(MemberCodes.MEMBER_NOT_FOUND, "No member has this card, code or phone number.")

    async def balances(self, member_id: uuid.UUID, member: Member | None = None) -> MemberBalances:
        if member is None:
            member = await self.call("GET", f"/api/members/{member_id}", Member)
        b = await self.call("GET", f"/api/members/{member_id}/balances", Balances)
        self.names[member_id] = member.name
        return MemberBalances(
            member_id=member_id,
            name=member.name,
            tier=b.tier or member.tier or "",
            points=b.points,
            points_value=points_value(b.points, self._points_per_yuan()),
            e_coin=b.e_coin,
            stored_value=b.stored_value,
        )


def masked_instrument(instrument: str) -> str:
    """What the checkout's tender carries for an approved card or wallet payment: the last four digits
    (the server matches them with the payment), never the card number."""
    return "*" * max(0, len(instrument) - 4) + instrument[-4:]


class ServerTerminal(StaffCalls):
    """``PaymentTerminal`` over ``POST /payments``: the payment id is made before the first attempt and a
    retry (or "check again") sends the same id without the card, so the server asks the acquirer and never
    charges twice."""

    def __init__(self, auth: StaffAuth) -> None:
        super().__init__(auth)
        self._instruments: dict[uuid.UUID, str] = {}

    async def charge(self, payment_id: uuid.UUID, kind: PaymentTenderKind, amount: int, instrument: str) -> Charge:
        if kind not in ("card", "wallet"):
            raise ValueError(f"{kind} does not go through the payment provider")
        self._instruments[payment_id] = instrument
        body = ChargeRequest(
            payment_id=payment_id,
            tender=kind,
            amount=amount,
            card_number=instrument if kind == "card" else None,
            wallet_code=instrument if kind == "wallet" else None,
        )
        return await self._send(payment_id, body)

    async def query(self, payment_id: uuid.UUID) -> Charge:
        try:
            payment = await self.call("GET", f"/payments/{payment_id}", Payment)
        except Refused as exc:
            if exc.code == "not_found":  # the first attempt never reached the server: nothing was charged
                return Charge(payment_id, "failed")
            raise
        if payment.status in ("approved", "declined", "failed"):
            return self._charge(payment)
        body = ChargeRequest(payment_id=payment_id, tender=payment.tender, amount=payment.amount)
        return await self._send(payment_id, body)

    async def _send(self, payment_id: uuid.UUID, body: ChargeRequest) -> Charge:
        try:
            return self._charge(await self.call("POST", "/payments", Payment, body=body))
        except Refused as exc:
            if exc.code == PaymentCodes.PAYMENT_IN_PROGRESS:
                return Charge(payment_id, "unknown")
            if exc.code == PaymentCodes.INSTRUMENT_MISSING:
                return Charge(payment_id, "failed")
            raise

    def _charge(self, p: Payment) -> Charge:
        status: Any = p.status if p.status in ("approved", "declined", "failed") else "unknown"
        instrument = self._instruments.get(p.id, "")
        if status != "unknown":
            self._instruments.pop(p.id, None)
        return Charge(
            payment_id=p.id,
            status=status,
            decline_reason=p.decline_reason or "",
            token=masked_instrument(instrument) if instrument else "*" * 12 + (p.last4 or ""),
            masked=f"**** {p.last4}" if p.last4 else "",
        )


class ServerRefunds(StaffCalls):
    """``Refunds`` over ``/checkouts/for-refund`` and ``POST /refunds``."""

    async def find(self, receipt: str) -> SoldCheckout:
        found = await self.call("GET", "/checkouts/for-refund", CheckoutForRefund, params={"receipt": receipt.strip()})
        c = found.checkout
        return SoldCheckout(
            checkout_id=c.id,
            receipt_no=c.receipt_no,
            total=c.total,
            lines=tuple(
                SoldLine(
                    ticket_id=line.ticket_id,
                    ticket_number=line.ticket_number,
                    line_no=line.line_no,
                    name=line.name or line.sku,
                    qty=line.qty,
                    refundable_qty=line.qty - line.returned,
                    line_total=line.line_total,
                    ticket_state=line.ticket_state,
                )
                for line in found.lines
            ),
            tenders=tuple(Tender(t.id, t.kind, t.applied, masked=t.masked or "") for t in c.tenders),
        )

    async def refund(
        self,
        refund_id: uuid.UUID,
        checkout_id: uuid.UUID,
        lines: tuple[RefundLine, ...],
        reason: str,
        approval: Approval | None,
    ) -> RefundDone:
        body = RefundRequest(
            id=refund_id,
            checkout_id=checkout_id,
            lines=[RefundLineRequest(ticket_id=ln.ticket_id, line_no=ln.line_no, qty=ln.qty) for ln in lines],
            reason=reason,
            approval=SupervisorApproval(staff_code=approval.staff_code, pin=approval.pin) if approval else None,
        )
        done = await self.call("POST", "/refunds", RefundResult, body=body)
        to: dict[PaymentTenderKind, int] = {}
        for t in done.tenders:
            to[t.kind] = to.get(t.kind, 0) + t.amount
        on_terminal = tuple(
            (t.refund_ref.removeprefix(TERMINAL), t.amount)
            for t in done.tenders
            if t.refund_ref and t.refund_ref.startswith(TERMINAL)
        )
        return RefundDone(
            done.id,
            done.amount,
            tuple(to.items()),
            points_reversed=done.points_reversed,
            e_coin_reversed=done.e_coin_reversed,
            on_terminal=on_terminal,
        )


def shift_info(shift: Shift) -> ShiftInfo:
    return ShiftInfo(shift.id, shift.float_amount, shift.opened_at_ms)


class ServerShifts(StaffCalls):
    """``Shifts`` over ``/shifts``: the till's own open shift, X and Z reports."""

    async def current(self) -> ShiftInfo | None:
        try:
            return shift_info(await self.call("GET", "/shifts/current", Shift))
        except Refused as exc:
            if exc.code == "not_found":
                return None
            raise

    async def open(self, shift_id: uuid.UUID, float_amount: int) -> ShiftInfo:
        return shift_info(
            await self.call("POST", "/shifts", Shift, body=OpenShift(shift_id=shift_id, float_amount=float_amount))
        )

    async def report(self, shift_id: uuid.UUID) -> ShiftReport:
        return await self.call("GET", f"/shifts/{shift_id}/report", ShiftReport)

    async def close(self, shift_id: uuid.UUID, counted_cash: int) -> ShiftReport:
        return await self.call(
            "POST", f"/shifts/{shift_id}/close", ShiftReport, body=CloseShift(counted_cash=counted_cash)
        )


class ServerTopUps(StaffCalls):
    """``TopUps`` over ``POST /api/members/{id}/top-ups`` (cash into this till's shift)."""

    def __init__(self, auth: StaffAuth, till_id: Callable[[], uuid.UUID | None]) -> None:
        super().__init__(auth)
        self._till_id = till_id

    async def top_up(
        self, member_id: uuid.UUID, movement_id: uuid.UUID, amount: int, shift_id: uuid.UUID | None
    ) -> int:
        body = TopUp(movement_id=movement_id, amount=amount, till_id=self._till_id(), shift_id=shift_id)
        done = await self.call("POST", f"/api/members/{member_id}/top-ups", TopUpResult, body=body)
        return done.stored_value
