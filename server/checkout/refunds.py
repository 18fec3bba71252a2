"""Refunds and returns: whole tickets or chosen lines of a settled checkout, back to its tenders.

Money goes back to the tenders that paid, in proportion to what each can still give back (cash from
the drawer, card and wallet through the provider, points, e-coin and stored value to the member);
the points earned on returned lines come back off. Everything is written as new entries. Above a
configurable amount (counting the checkout's earlier refunds) a supervisor approves with their own
staff code and PIN.

Refunds of one checkout are serialised by a session advisory lock held while the provider is asked
(outside any transaction), so two tills cannot give the same money back twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence

import asyncpg
import msgspec

from protocol.checkout import (
    CheckoutCodes,
    CheckoutForRefund,
    RefundableLine,
    RefundLineResult,
    RefundRequest,
    RefundResult,
    RefundTenderResult,
)
from protocol.members import ReturnedLine
from protocol.tickets import Ticket
from server import audit
from server.auth import approval
from server.checkout import repository as repo
from server.checkout import rules, service
from server.checkout.config import CheckoutConfig
from server.checkout.service import Payments, Who, earning_reference, purchase_lines
from server.errors import AppError, Conflict, NotFound
from server.ledger import service as ledger
from server.ledger.posting import derived_id
from server.loyalty import service as loyalty
from server.payments import service as payments
from server.receipts.verify import verify_receipt_for_store
from server.settings import Settings
from server.shifts import service as shifts
from server.tickets import service as tickets
from server.tickets.service import first_difference


class _Line(msgspec.Struct, frozen=True):
    ticket: Ticket
    line_no: int
    qty: int
    amount: int
    counter_id: uuid.UUID


async def refund(
    conn: asyncpg.Connection,
    who: Who,
    req: RefundRequest,
    pay: Payments,
    config: CheckoutConfig,
    settings: Settings,
) -> RefundResult:
    """Refund ``req`` once; a retry with the same refund id answers the stored result."""
    if conn.is_in_transaction():
        raise RuntimeError("refund runs its own transactions")
    stored = await conn.fetchrow(repo.GET_REFUND, req.id)
    if stored is not None:
        return _replay(stored, who, req)
    await conn.execute(repo.LOCK_REFUNDS, str(req.checkout_id))
    try:
        stored = await conn.fetchrow(repo.GET_REFUND, req.id)
        if stored is not None:
            return _replay(stored, who, req)
        return await _refund_locked(conn, who, req, pay, config, settings)
    finally:
        await conn.execute(repo.UNLOCK_REFUNDS, str(req.checkout_id))


def _replay(stored: asyncpg.Record, who: Who, req: RefundRequest) -> RefundResult:
    if stored["store_id"] != who.store_id:
        raise Conflict("This refund id is already used; make a new refund.", CheckoutCodes.REFUND_ID_REUSED)
    before = msgspec.json.decode(stored["request"])
    now = msgspec.to_builtins(req)
    before.pop("approval", None)  # the PIN is never stored, so it cannot be compared
    now.pop("approval", None)
    field = first_difference(before, now)
    if field is not None:
        raise Conflict(
            f"This refund was already made with a different {field}; make a new refund for other lines.",
            CheckoutCodes.REFUND_ID_REUSED,
            field=field,
        )
    return msgspec.structs.replace(msgspec.json.decode(stored["result"], type=RefundResult), replayed=True)


async def _refund_locked(
    conn: asyncpg.Connection, who: Who, req: RefundRequest, pay: Payments, config: CheckoutConfig, settings: Settings
) -> RefundResult:
    checkout = await conn.fetchrow(repo.GET_CHECKOUT, req.checkout_id)
    if checkout is None or checkout["store_id"] != who.store_id:
        raise NotFound("checkout", req.checkout_id)
    if checkout["state"] != "settled":
        raise Conflict("This checkout was not settled; it has nothing to refund.", CheckoutCodes.TICKET_NOT_PAID)
    in_checkout = {r["ticket_id"]: r for r in await conn.fetch(repo.CHECKOUT_TICKETS, req.checkout_id)}
    lines = await _plan(conn, who, req, in_checkout)
    amount = sum(ln.amount for ln in lines)
    approver = await _approval(conn, who, req, amount, int(checkout["refunded"]), config, settings)
    tender_rows = await conn.fetch(repo.TENDERS, req.checkout_id)
    paid = [rules.PaidTender(r["id"], r["kind"], r["applied"], r["refunded"]) for r in tender_rows]
    shares = rules.allocate_refund(amount, paid) if amount > 0 else []
    by_id = {r["id"]: r for r in tender_rows}
    if who.shift_id is None and any(s.to == "drawer" for s in shares):
        raise AppError(
            CheckoutCodes.SHIFT_REQUIRED,
            "This refund gives cash back from the drawer: open a shift on this till first.",
            status=409,
        )
    refs = await _provider_refunds(conn, who, req, pay, shares, by_id)
    result = RefundResult(
        id=req.id,
        checkout_id=req.checkout_id,
        store_id=who.store_id,
        amount=amount,
        currency=checkout["currency"].strip(),
        lines=[
            RefundLineResult(ticket_id=ln.ticket.id, line_no=ln.line_no, qty=ln.qty, amount=ln.amount) for ln in lines
        ],
        tenders=[
            RefundTenderResult(
                tender_id=s.tender_id, kind=s.kind, amount=s.amount, to=s.to, refund_ref=refs.get(s.tender_id)
            )
            for s in shares
        ],
        approved_by=approver,
        refunded_at_ms=time.time_ns() // 1_000_000,
    )
    async with conn.transaction():
        # The lock order of ticket writers (``server.events``): the checkout row (refunds of one checkout
        # queue here), the tickets whose state the refund may change (in id order), the row work, and
        # last the store's event counter (``_new_states``).
        await conn.fetchrow(repo.LOCK_CHECKOUT, req.checkout_id)
        await tickets.lock(conn, who.store_id, sorted({ln.ticket.id for ln in lines}))
        await _member_refunds(conn, req, config, shares, by_id)
        points, e_coin = await _reverse_earning(conn, who, req, checkout, in_checkout, lines)
        result = msgspec.structs.replace(result, points_reversed=points, e_coin_reversed=e_coin)
        await conn.execute(
            repo.INSERT_REFUND,
            req.id,
            req.checkout_id,
            who.store_id,
            who.staff_id,
            who.device_id,
            approver,
            who.shift_id,
            amount,
            req.reason,
            repo.to_json(msgspec.structs.replace(req, approval=None)),
            repo.to_json(result),
        )
        await conn.executemany(
            repo.INSERT_REFUND_LINE,
            [(req.id, ln.ticket.id, ln.line_no, ln.counter_id, ln.qty, ln.amount) for ln in lines],
        )
        await conn.executemany(
            repo.INSERT_REFUND_TENDER,
            [(req.id, s.tender_id, s.kind, s.amount, refs.get(s.tender_id)) for s in shares],
        )
        for s in shares:
            await conn.execute(repo.ADD_TENDER_REFUNDED, s.tender_id, s.amount)
            if who.shift_id is not None:
                await shifts.record_tender(
                    conn,
                    shift_id=who.shift_id,
                    kind="refund",
                    amount=s.amount,
                    reference=f"refund:{req.id}/tender:{s.tender_id}",
                    tender=s.kind,
                    staff_id=who.staff_id,
                )
        await conn.execute(repo.ADD_CHECKOUT_REFUNDED, req.checkout_id, amount)
        await audit.record(
            conn,
            store_id=who.store_id,
            staff_id=who.staff_id,
            device_id=who.device_id,
            action="checkout.refunded",
            object_type="checkout",
            object_id=req.checkout_id,
            details={
                "refund_id": str(req.id),
                "amount": amount,
                "approved_by": str(approver) if approver else None,
                "reason": req.reason,
                "tenders": [{"kind": s.kind, "amount": s.amount, "to": s.to} for s in shares],
            },
        )
        await _new_states(conn, who, req.checkout_id, lines)  # last: appends the events (the counter is the last lock)
    return result


async def _plan(
    conn: asyncpg.Connection, who: Who, req: RefundRequest, in_checkout: dict[uuid.UUID, asyncpg.Record]
) -> list[_Line]:
    """The lines to give back with their amounts, discounts pro-rated, never more than was sold."""
    asked: dict[tuple[uuid.UUID, int], int] = {}
    returned = await repo.returned_qty(conn, req.checkout_id)
    loaded: dict[uuid.UUID, Ticket] = {}

    async def ticket(tid: uuid.UUID) -> Ticket:
        if tid not in in_checkout:
            raise AppError(
                CheckoutCodes.TICKET_NOT_IN_CHECKOUT,
                "That ticket was not paid by this checkout; look up the checkout on its receipt.",
                status=404,
                details={"ticket_id": str(tid)},
            )
        if tid not in loaded:
            loaded[tid] = t = await tickets.get_ticket(conn, who.store_id, tid)
            # by the units returned, not the state: a ticket refunded before states existed is refused too
            if refund_state(t, returned) == "refunded":
                raise Conflict(
                    f"Ticket {t.number} was already refunded in full; nothing of it can come back again.",
                    CheckoutCodes.TICKET_REFUNDED,
                    ticket_id=str(t.id),
                    number=t.number,
                )
        return loaded[tid]

    for tid in req.ticket_ids:
        for ln in (await ticket(tid)).lines:
            left = ln.qty - returned.get((tid, ln.line_no), 0)
            if left > 0:
                asked[(tid, ln.line_no)] = left
    for want in req.lines:
        t = await ticket(want.ticket_id)
        if not any(ln.line_no == want.line_no for ln in t.lines):
            raise AppError(
                CheckoutCodes.REFUND_LINE_UNKNOWN,
                f"Ticket {t.number} has no line {want.line_no}.",
                status=404,
                details={"ticket_id": str(t.id), "line_no": want.line_no},
            )
        key = (want.ticket_id, want.line_no)
        asked[key] = asked.get(key, 0) + want.qty
    if not asked:
        raise AppError(
            CheckoutCodes.REFUND_EMPTY,
            "Nothing is left to refund on these tickets; choose lines that were not returned.",
        )
    out = []
    for (tid, line_no), qty in asked.items():
        t = loaded[tid]
        line = next(ln for ln in t.lines if ln.line_no == line_no)
        amount = rules.line_refund_amount(line.line_total, line.qty, returned.get((tid, line_no), 0), qty)
        out.append(_Line(t, line_no, qty, amount, in_checkout[tid]["counter_id"]))
    return out


def refund_state(ticket: Ticket, returned: Mapping[tuple[uuid.UUID, int], int]) -> tickets.RefundState | None:
    """The ticket's state by the units of its lines returned so far (None when nothing came back)."""
    back = [min(returned.get((ticket.id, ln.line_no), 0), ln.qty) for ln in ticket.lines]
    if not any(back):
        return None
    return "refunded" if all(b == ln.qty for b, ln in zip(back, ticket.lines, strict=True)) else "partly_refunded"


async def _new_states(conn: asyncpg.Connection, who: Who, checkout_id: uuid.UUID, lines: Sequence[_Line]) -> None:
    """Tickets whose state this refund changes move to partly_refunded or refunded (with their events)."""
    returned = await repo.returned_qty(conn, checkout_id)  # this refund's lines are already written
    touched = {ln.ticket.id: ln.ticket for ln in lines}
    states = {tid: refund_state(t, returned) for tid, t in touched.items()}
    await tickets.mark_refunded(conn, who.store_id, {tid: st for tid, st in states.items() if st is not None})


async def _approval(
    conn: asyncpg.Connection,
    who: Who,
    req: RefundRequest,
    amount: int,
    refunded_before: int,
    config: CheckoutConfig,
    settings: Settings,
) -> uuid.UUID | None:
    """The approving supervisor's id when the refund needs one; refuses a missing or wrong approval."""
    if not rules.needs_approval(amount, refunded_before, config.refund_approval_limit):
        return None
    limit = config.refund_approval_limit
    if req.approval is None:
        raise AppError(
            CheckoutCodes.APPROVAL_REQUIRED,
            f"Refunds over {rules.fen_text(limit)} per checkout need a supervisor: ask one to enter their staff code "
            "and PIN.",
            status=403,
            details={"limit": limit, "amount": amount, "refunded_before": refunded_before},
        )
    approver = await approval.approver(conn, settings, who.store_id, req.approval.staff_code, req.approval.pin)
    if approver is None:
        await audit.record(
            conn,
            store_id=who.store_id,
            staff_id=who.staff_id,
            device_id=who.device_id,
            action="checkout.refund_approval_refused",
            object_type="checkout",
            object_id=req.checkout_id,
            details={"refund_id": str(req.id), "approver_code": req.approval.staff_code, "amount": amount},
        )
        raise AppError(
            CheckoutCodes.APPROVAL_REFUSED,
            "That approval was refused: it needs the staff code and PIN of a supervisor or manager of this store.",
            status=403,
        )
    return approver


async def _provider_refunds(
    conn: asyncpg.Connection,
    who: Who,
    req: RefundRequest,
    pay: Payments,
    shares: Sequence[rules.RefundShare],
    tenders: dict[uuid.UUID, asyncpg.Record],
) -> dict[uuid.UUID, str]:
    """Card and wallet shares back through the provider, each with its own stable refund id. A card
    charged on a standalone terminal is given back on that terminal by the cashier: its share keeps the
    original approval reference (``terminal:<code>``) so the till says so."""
    refs: dict[uuid.UUID, str] = {}
    for s in shares:
        if s.to != "provider":
            continue
        ref = tenders[s.tender_id]["payment_ref"] or ""
        if ref.startswith(service.TERMINAL_PREFIX):
            refs[s.tender_id] = ref
            continue
        back = await payments.refund(
            conn,
            provider=pay.provider,
            store_id=who.store_id,
            payment_id=s.tender_id,
            refund_id=derived_id(req.id, f"tender:{s.tender_id}"),
            amount=s.amount,
            reason=req.reason or f"refund {req.id}",
            actor=payments.Actor(staff_id=who.staff_id, device_id=who.device_id),
            config=pay.config,
        )
        if back.status != "approved":
            raise AppError(
                CheckoutCodes.PAYMENT_UNKNOWN if back.status == "unknown" else CheckoutCodes.PAYMENT_DECLINED,
                f"The {s.kind} refund was {back.status} by the provider; send this refund again unchanged "
                "(nothing is given back twice) or give the money back another way with a supervisor.",
                status=409,
                details={"tender_id": str(s.tender_id), "status": back.status},
            )
        refs[s.tender_id] = back.provider_ref or str(back.id)
    return refs


async def _member_refunds(
    conn: asyncpg.Connection,
    req: RefundRequest,
    config: CheckoutConfig,
    shares: Sequence[rules.RefundShare],
    tenders: dict[uuid.UUID, asyncpg.Record],
) -> None:
    """Points, e-coin and stored value back to the member's accounts as new ledger entries."""
    for s in shares:
        if s.to != "member":
            continue
        row = tenders[s.tender_id]
        amount = s.amount
        if s.kind == "points":
            before = int(row["refunded"])
            # cumulative, so refunding a tender in steps gives back exactly the points it spent
            ppy = config.points_per_yuan
            amount = (before + s.amount) * ppy // 100 - before * ppy // 100
        if amount <= 0:
            continue
        await ledger.refund_tender(
            conn,
            movement_id=derived_id(req.id, f"tender:{s.tender_id}"),
            hold_id=uuid.UUID(row["ledger_ref"]),
            amount=amount,
        )


async def _reverse_earning(
    conn: asyncpg.Connection,
    who: Who,
    req: RefundRequest,
    checkout: asyncpg.Record,
    in_checkout: dict[uuid.UUID, asyncpg.Record],
    lines: Sequence[_Line],
) -> tuple[int, int]:
    """Take back the points earned on the returned lines and the campaign e-coin the sale earned, in
    proportion (one new ledger movement). Returns (points, e-coin) taken back."""
    if checkout["member_id"] is None:
        return 0, 0
    paid = [await tickets.get_ticket(conn, who.store_id, r["ticket_id"]) for r in in_checkout.values()]
    numbers = {(t.id, line_no): pl.line_no for t, line_no, pl in await purchase_lines(conn, paid)}
    returned = [
        ReturnedLine(line_no=numbers[(ln.ticket.id, ln.line_no)], amount=ln.amount) for ln in lines if ln.amount > 0
    ]
    if not returned:
        return 0, 0
    reversed_ = await loyalty.reverse_for_refund(
        conn,
        movement_id=derived_id(req.id, "reverse-earning"),
        store_id=who.store_id,
        original_reference=earning_reference(req.checkout_id),
        lines=returned,
        staff_id=who.staff_id,
    )
    return reversed_.points, reversed_.e_coin


async def for_refund(
    conn: asyncpg.Connection, store_id: uuid.UUID, *, checkout_id: uuid.UUID | None = None, receipt: str | None = None
) -> CheckoutForRefund:
    """A settled checkout found by id, receipt number or the customer's receipt QR, with what can
    still be returned."""
    if checkout_id is None and receipt:
        text = receipt.strip()
        if text.startswith("FTR"):
            checkout_id = (await verify_receipt_for_store(conn, store_id, text)).checkout_id
        else:
            checkout_id = await conn.fetchval(repo.BY_RECEIPT_NO, store_id, text.upper())
    if checkout_id is None:
        raise NotFound("checkout with that receipt")
    result = await service.get_checkout(conn, store_id, checkout_id)
    returned = await repo.returned_qty(conn, checkout_id)
    lines = []
    for settled in result.tickets:
        t = await tickets.get_ticket(conn, store_id, settled.id)
        for ln in sorted(t.lines, key=lambda x: x.line_no):
            lines.append(
                RefundableLine(
                    ticket_id=t.id,
                    ticket_number=t.number,
                    line_no=ln.line_no,
                    sku=ln.sku,
                    name=ln.name,
                    qty=ln.qty,
                    returned=returned.get((t.id, ln.line_no), 0),
                    line_total=ln.line_total,
                    ticket_state=t.state,
                )
            )
    tender_rows = await conn.fetch(repo.TENDERS, checkout_id)
    row = await conn.fetchrow(repo.GET_CHECKOUT, checkout_id)
    assert row is not None
    return CheckoutForRefund(
        checkout=result,
        lines=lines,
        refunded=int(row["refunded"]),
        tender_refunded={str(r["id"]): int(r["refunded"]) for r in tender_rows},
    )
