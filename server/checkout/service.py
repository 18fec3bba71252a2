"""Settling a consolidated checkout: N open tickets of one store, M tenders, all paid or none.

The order of work, and why:

1. A checkout id already stored is a replay: the stored result is answered (same content) or the
   request is refused naming the first differing field.
2. Tickets, member and tenders are checked against the money rules without locks.
3. Card and wallet tenders are charged through ``payments.charge_once`` *before* the settling
   transaction, keyed by the tender id made on the till: a retry after a timeout asks the provider
   instead of charging again. (The charge is committed on its own, outside our transaction, so the
   tickets are never locked while a card terminal thinks.)
4. One transaction, in the lock order every ticket writer uses (``server.events``): the checkout id's
   and the member's advisory keys; the tickets ``FOR UPDATE`` in id order, their states checked again
   (a concurrent checkout of the same ticket waits here and then finds it paid); member balances
   reserved and captured, earning posted, shift, receipt and checkout rows written; the tickets marked
   paid and their sales facts written; and last the store's event counter, taken only to append the
   *paid* events the handhelds and tills receive, then the commit. Checkouts of one store therefore
   do their work side by side and queue only for that append. The unique index on settled
   ``checkout_ticket`` rows stays as a safety net.
5. If step 4 is refused for good (a ticket paid meanwhile by another checkout, a balance spent
   elsewhere), the card and wallet charges of this attempt are given back through the provider.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

import asyncpg
import msgspec

from protocol.checkout import (
    CHANGE_GIVING,
    MEMBER_TENDERS,
    PROVIDER_TENDERS,
    CheckoutCodes,
    CheckoutMode,
    CheckoutRequest,
    CheckoutResult,
    CustomerTickets,
    OneStopRequest,
    SettledTicket,
    TenderRequest,
    TenderResult,
)
from protocol.members import AllowanceSpend, PurchaseLine
from protocol.payments import Payment
from protocol.tickets import Ticket
from protocol.till import TillCodes
from server import audit
from server.auth.guards import Caller
from server.checkout import receipt, rules
from server.checkout import repository as repo
from server.checkout.config import CheckoutConfig
from server.errors import AppError, Conflict, NotFound
from server.ledger import allowance
from server.ledger import service as ledger
from server.ledger.posting import derived_id
from server.loyalty import service as loyalty
from server.members import service as members
from server.payments import repository as payments_repo
from server.payments import service as payments
from server.payments.provider import PaymentProvider
from server.shifts import service as shifts
from server.tickets import service as tickets
from server.tickets.repository import ticket_from
from server.tickets.service import first_difference

log = logging.getLogger(__name__)

LEDGER_KIND = {"points": "points", "ecoin": "e_coin", "stored_value": "stored_value"}

TERMINAL_PREFIX = "terminal:"
"""A tender's payment reference when the card was charged on a standalone terminal (refunded there too)."""


@dataclass(frozen=True)
class Who:
    """Who settles: the store, the signed-in cashier (till) or the handheld itself (one-stop)."""

    store_id: uuid.UUID
    staff_id: uuid.UUID | None
    device_id: uuid.UUID | None
    mode: CheckoutMode = "till"
    shift_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Payments:
    """The payment provider and its timings, as the app installed them."""

    provider: PaymentProvider
    config: payments.PaymentsConfig = payments.DEFAULT_CONFIG


async def at_till(conn: asyncpg.Connection, caller: Caller) -> Who:
    """A cashier settling at the till they signed in on, in that till's open shift (if one is open)."""
    shift_id = None
    if caller.device_id is not None:
        shift_id = await conn.fetchval(OPEN_SHIFT, caller.device_id, caller.store_id)
    return Who(
        store_id=caller.store_id, staff_id=caller.staff_id, device_id=caller.device_id, mode="till", shift_id=shift_id
    )


OPEN_SHIFT = "SELECT id FROM shift WHERE till_id = $1 AND store_id = $2 AND status = 'open'"


# --- finding a customer's tickets -------------------------------------------------------------------


async def customer_tickets(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    *,
    ticket_id: uuid.UUID | None = None,
    member_code: str | None = None,
) -> CustomerTickets:
    """Every open ticket of the customer, from one scanned ticket or the member's code or card."""
    member_id: uuid.UUID | None = None
    if ticket_id is None:
        if not member_code:
            raise AppError(CheckoutCodes.NO_TICKETS, "Scan a ticket or the member's code first.")
        member_id = await _member_by_code(conn, store_id, member_code)
    found = await tickets.open_tickets_for(conn, store_id, ticket_id=ticket_id, member_id=member_id)
    if ticket_id is not None and found:
        member_id = found[0].member_id
    if not found:
        raise AppError(
            CheckoutCodes.NO_OPEN_TICKETS,
            "This member has no open tickets in the store; ask the counter to issue one.",
            status=404,
        )
    currency = found[0].currency
    return CustomerTickets(member_id=member_id, tickets=found, total=sum(t.total for t in found), currency=currency)


async def _member_by_code(conn: asyncpg.Connection, store_id: uuid.UUID, code: str) -> uuid.UUID:
    try:
        return (await members.find_member(conn, store_id, code=code)).id
    except AppError as exc:
        if exc.status != 404:
            raise
    return (await members.find_member(conn, store_id, card=code)).id


# --- settling ---------------------------------------------------------------------------------------


async def settle(
    conn: asyncpg.Connection, who: Who, req: CheckoutRequest, pay: Payments, config: CheckoutConfig
) -> CheckoutResult:
    """Settle ``req`` all or nothing; a retry with the same id answers the stored result."""
    if conn.is_in_transaction():
        raise RuntimeError("settle runs its own transactions")
    stored = await conn.fetchrow(repo.GET_CHECKOUT, req.id)
    if stored is not None:
        return _replay(stored, who, req)
    found = await _prepare(conn, who, req)
    member_id = _member_of(found, req.member_id)
    total = sum(t.total for t in found)
    settled = _check_tenders(req, total, member_id, who)
    _check_expected(req, total)
    charges = await _charge(conn, who, req, pay)
    try:
        async with conn.transaction():
            await conn.execute(repo.LOCK_CHECKOUT_KEYS, req.id, member_id)
            rows = await conn.fetch(repo.LOCK_TICKETS, req.ticket_ids, req.id)
            # The same checkout sent twice at once: the first one may have settled it meanwhile.
            stored = await conn.fetchrow(repo.GET_CHECKOUT, req.id) if rows and rows[0]["settled"] else None
            if stored is None:
                now = _still_open(who, req, found, member_id, rows)
                result = await _settle_in_transaction(conn, who, req, config, now, member_id, settled, charges)
    except AppError:
        await _give_back_charges(conn, who, req, pay, charges)
        raise
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "checkout_ticket_settled_once":
            raise
        await _give_back_charges(conn, who, req, pay, charges)
        raise Conflict(
            "One of these tickets was already paid by another checkout a moment ago; scan the customer again.",
            CheckoutCodes.TICKET_ALREADY_IN_CHECKOUT,
        ) from None
    return _replay(stored, who, req) if stored is not None else result


def _replay(stored: asyncpg.Record, who: Who, req: CheckoutRequest) -> CheckoutResult:
    if stored["store_id"] != who.store_id:
        raise Conflict("This checkout id is already used; make a new checkout.", CheckoutCodes.CHECKOUT_ID_REUSED)
    before, now = msgspec.json.decode(stored["request"]), msgspec.to_builtins(req)
    # when and under which provisional receipt number the till took the money is not the checkout's content
    for meta in ("settled_offline_at_ms", "offline_receipt_no"):
        before.pop(meta, None)
        now.pop(meta, None)
    field = first_difference(before, now)
    if field is not None:
        raise Conflict(
            f"This checkout was already settled with a different {field}; start a new checkout for other tickets "
            "or tenders.",
            CheckoutCodes.CHECKOUT_ID_REUSED,
            field=field,
            checkout_id=str(req.id),
        )
    result = msgspec.json.decode(stored["result"], type=CheckoutResult)
    return msgspec.structs.replace(result, replayed=True)


async def _prepare(conn: asyncpg.Connection, who: Who, req: CheckoutRequest) -> list[Ticket]:
    if not req.ticket_ids:
        raise AppError(CheckoutCodes.NO_TICKETS, "Add at least one ticket to the checkout.")
    if len(set(req.ticket_ids)) != len(req.ticket_ids):
        raise AppError(CheckoutCodes.DUPLICATE_TICKET, "A ticket appears twice in this checkout; remove the copy.")
    if await conn.fetchval(repo.TENDER_USED, [t.id for t in req.tenders]):
        raise Conflict(
            "A tender id was already used by another checkout; make new tender ids.", CheckoutCodes.DUPLICATE_TENDER
        )
    found = await tickets.get_tickets(conn, who.store_id, req.ticket_ids)
    _check_open(found, req.id)
    return found


def _check_open(found: Sequence[Ticket], checkout_id: uuid.UUID) -> None:
    for t in found:
        if t.state == "issued":
            continue
        if t.state in ("paid", "released", "partly_refunded", "refunded"):
            raise Conflict(
                f"Ticket {t.number} is already paid by another checkout; take it off this one.",
                CheckoutCodes.TICKET_ALREADY_IN_CHECKOUT,
                ticket_id=str(t.id),
                checkout_id=str(t.checkout_id),
            )
        raise Conflict(
            f"Ticket {t.number} is {t.state} and can no longer be paid; ask the counter for a new ticket.",
            CheckoutCodes.TICKET_NOT_OPEN,
            ticket_id=str(t.id),
            state=t.state,
        )
    currencies = {t.currency for t in found}
    if len(currencies) > 1:
        raise AppError(CheckoutCodes.MIXED_CURRENCIES, "These tickets are in different currencies; settle them apart.")


def _check_expected(req: CheckoutRequest, total: int) -> None:
    if req.expected_total is not None and req.expected_total != total:
        raise Conflict(
            f"The tickets come to {total} fen, not the {req.expected_total} fen shown; scan the customer again.",
            CheckoutCodes.TOTAL_CHANGED,
            total=total,
            expected_total=req.expected_total,
        )


def _member_of(found: Sequence[Ticket], asked: uuid.UUID | None) -> uuid.UUID | None:
    owners = {t.member_id for t in found if t.member_id is not None}
    if len(owners) > 1:
        raise AppError(
            CheckoutCodes.MIXED_MEMBERS,
            "These tickets belong to different members; settle each member's tickets separately.",
            details={"member_ids": sorted(str(m) for m in owners)},
        )
    if asked is not None and owners and asked not in owners:
        raise AppError(
            CheckoutCodes.MIXED_MEMBERS,
            "The tickets belong to another member than the one presented; check the member card.",
        )
    return asked if asked is not None else (owners.pop() if owners else None)


def _check_tenders(
    req: CheckoutRequest, total: int, member_id: uuid.UUID | None, who: Who
) -> list[rules.SettledTender]:
    for t in req.tenders:
        if who.mode == "one_stop" and t.kind not in PROVIDER_TENDERS:
            raise AppError(
                CheckoutCodes.TENDER_NOT_ALLOWED,
                "A handheld takes only card or wallet payments; send the customer to a till for cash or member "
                "balances.",
                details={"tender_id": str(t.id), "kind": t.kind},
            )
        if t.kind in CHANGE_GIVING and who.shift_id is None:
            raise AppError(
                CheckoutCodes.SHIFT_REQUIRED,
                "Cash goes into a till's drawer: open a shift on this till first, then take the cash.",
                status=409,
                details={"tender_id": str(t.id)},
            )
        if t.terminal_ref is not None or t.last4 is not None:
            _check_terminal(t, who)
        elif rules.needs_token(t.kind) and not t.token:
            raise AppError(
                CheckoutCodes.TENDER_NEEDS_TOKEN,
                f"The {t.kind} tender needs the card read by the terminal or the customer's payment code.",
                details={"tender_id": str(t.id)},
            )
        if rules.needs_member(t.kind) and member_id is None:
            raise AppError(
                CheckoutCodes.TENDER_NEEDS_MEMBER,
                f"Paying with {t.kind.replace('_', ' ')} needs a member; scan the member's code first.",
                details={"tender_id": str(t.id)},
            )
    return rules.settle_tenders(total, [rules.Tender(t.id, t.kind, t.amount) for t in req.tenders])


def _check_terminal(t: TenderRequest, who: Who) -> None:
    """A card approved on a standalone terminal: a till's card tender with both the approval code and
    the last four digits."""
    if t.kind != "card" or who.mode != "till":
        raise AppError(
            TillCodes.TERMINAL_APPROVAL_NOT_CARD,
            "Only a card paid at a till's standalone card terminal carries a terminal approval code.",
            details={"tender_id": str(t.id), "kind": t.kind},
        )
    if not t.terminal_ref or not t.last4:
        raise AppError(
            TillCodes.TERMINAL_APPROVAL_BAD,
            "A card paid on the standalone terminal needs the approval code it printed and the card's last four "
            "digits.",
            details={"tender_id": str(t.id)},
        )


async def _charge(conn: asyncpg.Connection, who: Who, req: CheckoutRequest, pay: Payments) -> dict[uuid.UUID, Payment]:
    """Charge every card and wallet tender once; refuse unless all are approved. A card approved on a
    standalone terminal was charged there and is not charged again."""
    charges: dict[uuid.UUID, Payment] = {}
    for t in req.tenders:
        if t.kind not in PROVIDER_TENDERS or t.terminal_ref is not None:
            continue
        p = await payments.charge_once(
            conn,
            provider=pay.provider,
            payment_id=t.id,
            store_id=who.store_id,
            tender=cast(Literal["card", "wallet"], t.kind),
            amount=t.amount,
            currency=req.currency,
            card_number=t.token if t.kind == "card" else None,
            wallet_code=t.token if t.kind == "wallet" else None,
            reference=f"checkout:{req.id}",
            actor=payments.Actor(staff_id=who.staff_id, device_id=who.device_id),
            config=pay.config,
        )
        if p.status == "declined":
            raise AppError(
                CheckoutCodes.PAYMENT_DECLINED,
                f"The {t.kind} payment was declined ({p.decline_reason or 'no reason given'}); ask for another card "
                "or payment code and send it as a new tender.",
                status=402,
                details={"tender_id": str(t.id), "reason": p.decline_reason},
            )
        if p.status != "approved":
            raise AppError(
                CheckoutCodes.PAYMENT_UNKNOWN,
                f"The {t.kind} payment has no answer yet; send this checkout again unchanged in a moment "
                "(the card will not be charged twice).",
                status=409,
                details={"tender_id": str(t.id), "status": p.status},
            )
        if p.refunded:
            raise Conflict(
                f"The {t.kind} payment of this tender was given back; take the payment as a new tender.",
                CheckoutCodes.PAYMENT_DECLINED,
                tender_id=str(t.id),
            )
        charges[t.id] = p
    return charges


async def _give_back_charges(
    conn: asyncpg.Connection, who: Who, req: CheckoutRequest, pay: Payments, charges: dict[uuid.UUID, Payment]
) -> None:
    """The checkout was refused after its cards were charged: give the money back (idempotently)."""
    for tender_id, p in charges.items():
        try:
            await payments.refund(
                conn,
                provider=pay.provider,
                store_id=who.store_id,
                payment_id=tender_id,
                refund_id=derived_id(tender_id, "checkout-refused"),
                amount=p.amount,
                reason=f"checkout {req.id} refused",
                actor=payments.Actor(staff_id=who.staff_id, device_id=who.device_id),
                config=pay.config,
            )
        except Exception:  # the payment stays approved and visible to the reconciler and the supervisor
            log.exception("could not give back payment %s of refused checkout %s", tender_id, req.id)


async def _settle_in_transaction(
    conn: asyncpg.Connection,
    who: Who,
    req: CheckoutRequest,
    config: CheckoutConfig,
    found: list[Ticket],
    member_id: uuid.UUID | None,
    settled: list[rules.SettledTender],
    charges: dict[uuid.UUID, Payment],
) -> CheckoutResult:
    total = sum(t.total for t in found)
    by_id = {t.id: t for t in req.tenders}
    ledger_refs = await _spend_member_balances(conn, who, req, config, member_id, found)
    paid = found  # locked and checked again at the start of the transaction
    points = 0
    if member_id is not None:
        points = await _earn(conn, who, req, member_id, paid)
    results = [_tender_result(s, by_id[s.id], charges.get(s.id)) for s in settled]
    result = CheckoutResult(
        id=req.id,
        store_id=who.store_id,
        mode=who.mode,
        tickets=[SettledTicket(id=t.id, number=t.number, counter_id=t.counter_id, total=t.total) for t in paid],
        total=total,
        tendered=sum(s.tendered for s in settled),
        change=sum(s.change for s in settled),
        currency=req.currency,
        tenders=results,
        member_id=member_id,
        points_earned=points,
        settled_at_ms=time.time_ns() // 1_000_000,
    )
    result = await receipt.render(conn, result, paid, staff_id=who.staff_id, device_id=who.device_id)
    if who.shift_id is not None:
        await _record_in_shift(conn, who, req.id, settled)
    await conn.execute(
        repo.INSERT_CHECKOUT,
        req.id,
        who.store_id,
        who.mode,
        who.device_id,
        who.staff_id,
        who.shift_id,
        member_id,
        req.currency,
        total,
        result.tendered,
        result.change,
        repo.to_json(req),
        repo.to_json(result),
    )
    await conn.executemany(
        repo.INSERT_CHECKOUT_TICKET,
        # in ticket id order: two checkouts sharing tickets wait for each other on the same first one
        [
            (req.id, t.id, i, who.store_id, t.counter_id, t.number, t.total)
            for i, t in sorted(enumerate(paid, start=1), key=lambda it: it[1].id)
        ],
    )
    await conn.executemany(
        repo.INSERT_TENDER,
        [
            (s.id, req.id, i, s.kind, s.tendered, s.applied, s.change, r.payment_ref, r.masked, ledger_refs.get(s.id))
            for i, (s, r) in enumerate(zip(settled, results, strict=True), start=1)
        ],
    )
    await audit.record(
        conn,
        store_id=who.store_id,
        staff_id=who.staff_id,
        device_id=who.device_id,
        action="checkout.settled",
        object_type="checkout",
        object_id=req.id,
        details={
            "mode": who.mode,
            "tickets": [t.number for t in paid],
            "total": total,
            "tenders": [{"kind": s.kind, "applied": s.applied, "change": s.change} for s in settled],
        },
    )
    await tickets.mark_paid(conn, who.store_id, req.ticket_ids, req.id, checked=found)
    return result


def _still_open(
    who: Who, req: CheckoutRequest, found: Sequence[Ticket], member_id: uuid.UUID | None, rows: Sequence[asyncpg.Record]
) -> list[Ticket]:
    """The tickets as locked at the start of the settling transaction: refused if any was paid, voided
    or given to another member since they were read (lines and totals never change after issue)."""
    locked = {r["id"]: r for r in rows}
    now = []
    for t in found:
        row = locked.get(t.id)
        if row is None or row["store_id"] != who.store_id:
            raise NotFound("ticket", t.id)
        now.append(ticket_from(row, t.lines))
    _check_open(now, req.id)
    if _member_of(now, req.member_id) != member_id or [t.total for t in now] != [t.total for t in found]:
        raise Conflict(
            "These tickets changed while the payment was taken; scan the customer again.",
            CheckoutCodes.TOTAL_CHANGED,
        )
    return now


async def _record_in_shift(
    conn: asyncpg.Connection, who: Who, checkout_id: uuid.UUID, settled: Sequence[rules.SettledTender]
) -> None:
    """Every tender into the till's shift (cash in, change out), for the X and Z reports."""
    assert who.shift_id is not None
    for s in settled:
        ref = f"checkout:{checkout_id}/tender:{s.id}"
        await shifts.record_tender(
            conn,
            shift_id=who.shift_id,
            kind="sale",
            amount=s.tendered,
            reference=ref,
            tender=s.kind,
            staff_id=who.staff_id,
        )
        if s.change:
            await shifts.record_tender(
                conn,
                shift_id=who.shift_id,
                kind="change",
                amount=s.change,
                reference=ref,
                tender=s.kind,
                staff_id=who.staff_id,
            )


def _tender_result(s: rules.SettledTender, t: TenderRequest, p: Payment | None) -> TenderResult:
    if t.terminal_ref is not None:  # charged on the standalone terminal: its approval code is the reference
        return TenderResult(
            id=s.id,
            kind=s.kind,
            tendered=s.tendered,
            applied=s.applied,
            payment_ref=TERMINAL_PREFIX + t.terminal_ref,
            masked=f"**** {t.last4}",
        )
    return TenderResult(
        id=s.id,
        kind=s.kind,
        tendered=s.tendered,
        applied=s.applied,
        change=s.change,
        payment_ref=p.provider_ref if p else None,
        masked=f"**** {p.last4}" if p and p.last4 else None,
    )


async def _spend_member_balances(
    conn: asyncpg.Connection,
    who: Who,
    req: CheckoutRequest,
    config: CheckoutConfig,
    member_id: uuid.UUID | None,
    found: Sequence[Ticket],
) -> dict[uuid.UUID, str]:
    """Reserve and capture points, e-coin and stored value in this transaction; return hold ids."""
    refs: dict[uuid.UUID, str] = {}
    spent = [t for t in req.tenders if t.kind in MEMBER_TENDERS]
    if not spent:
        return refs
    assert member_id is not None
    cats = sorted(set((await repo.categories(conn, [ln.product_id for t in found for ln in t.lines])).values()))
    expires = datetime.now(UTC) + timedelta(minutes=config.hold_minutes)
    for t in spent:
        amount = config.points_for(t.amount) if t.kind == "points" else t.amount
        if t.allowance_id is not None:  # spent offline from what the server granted this till
            await _spend_allowance(conn, who, req, t, member_id, amount)
            refs[t.id] = str(t.allowance_id)
            continue
        hold_id = derived_id(t.id, "checkout-hold")
        await ledger.hold(
            conn,
            hold_id=hold_id,
            store_id=who.store_id,
            member_id=member_id,
            account=LEDGER_KIND[t.kind],
            amount=amount,
            expires_at=expires,
            categories=cats,
            reference=f"checkout:{req.id}",
            device_id=who.device_id,
        )
        await ledger.capture(conn, hold_id, reference=f"checkout:{req.id}")
        refs[t.id] = str(hold_id)
    return refs


async def _spend_allowance(
    conn: asyncpg.Connection,
    who: Who,
    req: CheckoutRequest,
    t: TenderRequest,
    member_id: uuid.UUID,
    amount: int,
) -> None:
    """Capture ``amount`` (ledger units) from the till's own allowance for this member and kind. The spend
    id is derived from the tender id, so a replay never takes it twice; beyond what is left is refused
    (``capture_exceeds_hold``) and the checkout with it."""
    assert t.allowance_id is not None
    row = await ledger.locked_hold(conn, t.allowance_id)
    if who.device_id is None or row["device_id"] != who.device_id or not row["reference"].startswith("allowance:"):
        raise NotFound("allowance", t.allowance_id)
    if row["member_id"] != member_id or row["kind"] != LEDGER_KIND[t.kind]:
        raise AppError(
            TillCodes.ALLOWANCE_NOT_FOR_TENDER,
            f"That offline allowance is not for this member's {t.kind.replace('_', ' ')}; pay this tender another way.",
            status=409,
            details={"tender_id": str(t.id), "allowance_id": str(t.allowance_id)},
        )
    await allowance.spend(
        conn,
        allowance_id=t.allowance_id,
        device_id=who.device_id,
        request=AllowanceSpend(
            spend_id=derived_id(t.id, "allowance-spend"), amount=amount, reference=f"checkout:{req.id}"
        ),
    )


async def purchase_lines(conn: asyncpg.Connection, paid: Sequence[Ticket]) -> list[tuple[Ticket, int, PurchaseLine]]:
    """The checkout's lines numbered 1..n across its tickets (in checkout order), for earning and reversal."""
    cats = await repo.categories(conn, [ln.product_id for t in paid for ln in t.lines])
    out = []
    n = 0
    for t in paid:
        for ln in sorted(t.lines, key=lambda x: x.line_no):
            n += 1
            line = PurchaseLine(
                line_no=n, sku=ln.sku, category=cats.get(ln.product_id, ""), amount=ln.line_total, promo=ln.promo
            )
            out.append((t, ln.line_no, line))
    return out


async def _earn(
    conn: asyncpg.Connection, who: Who, req: CheckoutRequest, member_id: uuid.UUID, paid: Sequence[Ticket]
) -> int:
    lines = [pl for _, _, pl in await purchase_lines(conn, paid) if pl.amount > 0]
    if not lines:
        return 0
    earned = await loyalty.post_earning(
        conn,
        movement_id=derived_id(req.id, "checkout-earning"),
        store_id=who.store_id,
        member_id=member_id,
        lines=lines,
        reference=earning_reference(req.id),
        staff_id=who.staff_id,
    )
    return earned.points


def earning_reference(checkout_id: uuid.UUID) -> str:
    """The reference a checkout's earning is posted (and reversed) under."""
    return f"checkout:{checkout_id}"


async def get_checkout(conn: asyncpg.Connection, store_id: uuid.UUID, checkout_id: uuid.UUID) -> CheckoutResult:
    row = await conn.fetchrow(repo.GET_CHECKOUT, checkout_id)
    if row is None or row["store_id"] != store_id:
        raise NotFound("checkout", checkout_id)
    return msgspec.json.decode(row["result"], type=CheckoutResult)


async def settle_one_stop(
    conn: asyncpg.Connection, who: Who, req: OneStopRequest, pay: Payments, config: CheckoutConfig
) -> CheckoutResult:
    """One-stop mode: the handheld that issued a ticket settles it with one card or wallet tender."""
    ticket = await tickets.get_ticket(conn, who.store_id, req.ticket_id)
    if ticket.device_id != who.device_id:
        raise AppError(
            CheckoutCodes.TENDER_NOT_ALLOWED,
            f"Ticket {ticket.number} was issued on another handheld; settle it there or at a till.",
            status=403,
            details={"ticket_id": str(ticket.id)},
        )
    as_checkout = CheckoutRequest(
        id=req.id,
        ticket_ids=[req.ticket_id],
        tenders=[req.tender],
        currency=ticket.currency,
        expected_total=req.expected_total,
    )
    return await settle(conn, who, as_checkout, pay, config)


async def stray_payments(conn: asyncpg.Connection, store_id: uuid.UUID, older_than_s: int) -> list[Payment]:
    """Approved card and wallet payments of checkouts that never settled, for a supervisor to give back."""
    rows = await conn.fetch(repo.STRAY_PAYMENTS, store_id, timedelta(seconds=older_than_s))
    return [payments_repo.to_payment(r) for r in rows]
