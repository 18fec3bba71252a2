"""Ticket rules: what may be issued, which transitions are allowed, and the checkout hooks.

Every change runs in the caller's transaction and answers the event it makes; the caller appends the
events of its transaction at the end (``events.append_all``, the last lock taken). Ticket rows are
locked ``FOR UPDATE`` in id order before anything else is written (the caller locks every ticket a
transaction may change at once, see ``server.events``), so concurrent writers never deadlock each other.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import msgspec

from protocol.errors import Codes
from protocol.ticket_codes import TicketCodes
from protocol.tickets import AttachMember, IssueTicket, ReleaseTicket, Ticket, TicketDraft, VoidTicket
from server import events
from server.auth.guards import DeviceCaller
from server.errors import AppError, Conflict, Forbidden, NotFound
from server.tickets import repository as repo

RefundState = Literal["partly_refunded", "refunded"]


RELEASABLE = ("paid", "partly_refunded")
REFUNDABLE = ("paid", "released", "partly_refunded")
"""States a refund may move on from (to ``partly_refunded`` or ``refunded``)."""

FIRES_DEFERRED = frozenset({"ticket_paid", "ticket_released", "ticket_partly_refunded", "ticket_refunded"})
"""Event kinds whose change queues the deferred sales-facts trigger (``ticket_paid_facts``): a transaction
with one of them calls ``events.run_deferred`` before its append."""


@dataclass(frozen=True)
class Outcome:
    """What a command did: the ticket after it and the kind of event it makes (None when nothing
    changed). The caller appends the event, which gives it its position."""

    ticket: Ticket
    event: str | None
    replayed: bool = False


def wrong_state(ticket: Ticket | asyncpg.Record, wanted: str) -> AppError:
    state, number, tid = (
        (ticket["state"], ticket["number"], ticket["id"])
        if isinstance(ticket, asyncpg.Record)
        else (ticket.state, ticket.number, ticket.id)
    )
    return Conflict(
        f"Ticket {number} is {state}; it cannot become {wanted}.",
        TicketCodes.WRONG_STATE,
        state=state,
        wanted=wanted,
        ticket_id=str(tid),
    )


def check_totals(draft: TicketDraft) -> None:
    """Refuse a draft whose figures do not add up, naming the first wrong line."""
    if not draft.lines:
        raise AppError(TicketCodes.EMPTY, "A ticket needs at least one line.")
    seen: set[int] = set()
    for line in draft.lines:
        if line.line_no in seen:
            raise AppError(
                TicketCodes.DUPLICATE_LINE,
                f"Line {line.line_no} appears twice; number the lines 1, 2, 3 ...",
                details={"line_no": line.line_no},
            )
        seen.add(line.line_no)
        expected = line.expected_total()
        if line.line_total != expected:
            raise AppError(
                TicketCodes.TOTALS_MISMATCH,
                f"Line {line.line_no} does not add up: {line.qty} x {line.unit_price} - {line.line_discount}"
                f" = {expected} fen, not {line.line_total}.",
                details={"line_no": line.line_no, "expected": expected, "given": line.line_total},
            )
    expected_total = sum(line.line_total for line in draft.lines)
    if draft.total != expected_total:
        raise AppError(
            TicketCodes.TOTALS_MISMATCH,
            f"The ticket total is {draft.total} fen but its lines add up to {expected_total} fen.",
            details={"field": "total", "expected": expected_total, "given": draft.total},
        )


def comparable_draft(draft: dict[str, Any], device_id: uuid.UUID | str) -> dict[str, Any]:
    """The parts of a draft that must match for a second upload of the same ticket to be a replay.

    Line SKUs and names are catalog text the ticket QR does not carry (the product id is what counts);
    the issuing device is filled in when the handheld left it out.
    """
    out = dict(draft)
    out["device_id"] = str(device_id)
    out["lines"] = [{k: v for k, v in line.items() if k not in ("sku", "name")} for line in draft.get("lines", [])]
    return out


def first_difference(old: Any, new: Any, path: str = "") -> str | None:
    """The path of the first field that differs (``lines[1].qty``), or None when equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            found = first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return f"{path}.length" if len(old) != len(new) else None
    return None if old == new else (path or "(value)")


def check_issue(device: DeviceCaller, draft: TicketDraft) -> None:
    """What issuing refuses before reading anything: another store, a till, another handheld's ticket."""
    if draft.store_id != device.store_id:
        raise NotFound("store", draft.store_id)
    if device.kind != "handheld":
        # A till uploads a ticket only as the QR the handheld signed (``IssueTicket.scanned_qr``).
        raise AppError(
            Codes.VALIDATION,
            "A till uploads a ticket only from its scanned QR code (scanned_qr); scan the customer's ticket.",
            details={"field": "scanned_qr"},
        )
    if draft.device_id not in (None, device.device_id):
        raise Forbidden("A handheld issues only its own tickets.", field="ticket.device_id")


@dataclass(frozen=True)
class Product:
    """What issuing checks of a line's product."""

    store_id: uuid.UUID
    sku: str
    counter_id: uuid.UUID


def check_catalog(
    draft: TicketDraft,
    *,
    currency: str,
    counter_store_id: uuid.UUID | None,
    number_taken: bool,
    products: Mapping[uuid.UUID, Product],
) -> None:
    """Refuse a draft the store's catalog does not support (checked with the chunk's advisory keys held,
    so no other transaction can take the number between this check and the insert)."""
    if draft.currency != currency.strip():
        raise AppError(
            TicketCodes.CURRENCY_MISMATCH,
            f"This store sells in {currency}, not {draft.currency}.",
            details={"currency": draft.currency, "store_currency": currency},
        )
    if counter_store_id != draft.store_id:
        raise NotFound("counter", draft.counter_id)
    if number_taken:
        raise _number_taken(draft.number)
    for line in draft.lines:
        p = products.get(line.product_id)
        if p is None or p.store_id != draft.store_id:
            raise AppError(
                TicketCodes.PRODUCT_MISMATCH,
                f"Line {line.line_no}: the product is not sold in this store; refresh the catalog.",
                status=404,
                details={"line_no": line.line_no, "field": "product_id"},
            )
        if p.sku != line.sku:
            raise AppError(
                TicketCodes.PRODUCT_MISMATCH,
                f"Line {line.line_no}: SKU {line.sku} does not match the product ({p.sku}); refresh the catalog.",
                details={"line_no": line.line_no, "field": "sku"},
            )
        if p.counter_id != draft.counter_id:
            raise AppError(
                TicketCodes.PRODUCT_MISMATCH,
                f"Line {line.line_no}: {line.sku} belongs to another counter; issue it on that counter's ticket.",
                details={"line_no": line.line_no, "field": "counter_id"},
            )


def new_ticket(draft: TicketDraft, origin: uuid.UUID, business_day: str = "") -> Ticket:
    """The ticket a checked draft becomes, issued by handheld ``origin``."""
    return Ticket(
        id=draft.id,
        store_id=draft.store_id,
        counter_id=draft.counter_id,
        device_id=origin,
        staff_id=draft.staff_id,
        number=draft.number,
        lines=draft.lines,
        total=draft.total,
        currency=draft.currency,
        member_id=draft.member_id,
        issued_at_ms=draft.issued_at_ms,
        business_day=business_day,
    )


async def issue(
    conn: asyncpg.Connection, device: DeviceCaller, cmd: IssueTicket, uploaded_by: uuid.UUID | None = None
) -> Outcome:
    """Issue the draft as ``device`` (the issuing handheld; ``uploaded_by`` is the till that scanned its
    QR, if any), or answer the existing ticket when the same ticket was already uploaded.

    ``server.sync.batch`` applies many plain uploads at once with the same checks; keep them in step.
    """
    draft = cmd.ticket
    check_issue(device, draft)
    origin = device.device_id
    ctx = await conn.fetchrow(
        repo.ISSUE_CONTEXT,
        draft.store_id,
        draft.counter_id,
        draft.number,
        draft.id,
        [ln.product_id for ln in draft.lines],
    )
    if ctx is None:
        raise NotFound("store", draft.store_id)
    if ctx["ticket_exists"]:
        # Only compared with what was uploaded (an issued ticket's content never changes): no row lock,
        # which would be taken out of id order (the caller locked the tickets it changes first).
        existing = await repo.get(conn, draft.id)
        if existing is not None:
            return await _same_ticket_again(conn, device, existing, draft, origin)
    check_totals(draft)
    check_catalog(
        draft,
        currency=ctx["currency"],
        counter_store_id=ctx["counter_store_id"],
        number_taken=ctx["number_taken"],
        products={p[0]: Product(p[1], p[2], p[3]) for p in ctx["products"]},
    )
    ticket = new_ticket(draft, origin)
    try:
        day = await repo.insert(conn, ticket, cmd.command_id, uploaded_by)
    except asyncpg.UniqueViolationError as exc:
        if "number" in (exc.constraint_name or ""):
            raise _number_taken(draft.number) from None
        raise
    return Outcome(msgspec.structs.replace(ticket, business_day=day), "ticket_issued")


def _number_taken(number: str) -> AppError:
    return AppError(
        TicketCodes.NUMBER_TAKEN,
        f"Ticket number {number} is already used in this store; number tickets per device.",
        status=409,
        details={"number": number},
    )


async def _same_ticket_again(
    conn: asyncpg.Connection, device: DeviceCaller, existing: asyncpg.Record, draft: TicketDraft, origin: uuid.UUID
) -> Outcome:
    if existing["store_id"] != device.store_id:
        raise Conflict("This ticket id is already used; make a new ticket.", TicketCodes.ID_REUSED)
    stored = await conn.fetchval(
        "SELECT (content -> 'ticket')::text FROM applied_command WHERE command_id = $1", existing["issue_command_id"]
    )
    before = comparable_draft(json.loads(stored), existing["device_id"]) if stored else {}
    now = comparable_draft(msgspec.to_builtins(draft), origin)
    field = first_difference(before, now)
    if field is not None:
        raise Conflict(
            f"Ticket {existing['number']} was already uploaded with a different {field}; make a new ticket.",
            TicketCodes.ID_REUSED,
            field=f"ticket.{field}",
            ticket_id=str(existing["id"]),
        )
    (ticket,) = await repo.with_lines(conn, [existing])
    return Outcome(ticket, None, replayed=True)


async def _ticket_in_store(conn: asyncpg.Connection, store_id: uuid.UUID, ticket_id: uuid.UUID) -> Ticket:
    row = await repo.get(conn, ticket_id, for_update=True)
    if row is None or row["store_id"] != store_id:
        raise NotFound("ticket", ticket_id)
    (ticket,) = await repo.with_lines(conn, [row])
    return ticket


async def void(conn: asyncpg.Connection, device: DeviceCaller, cmd: VoidTicket) -> Outcome:
    ticket = await _ticket_in_store(conn, device.store_id, cmd.ticket_id)
    if ticket.state != "issued":
        raise wrong_state(ticket, "voided")
    await conn.execute(repo.SET_VOIDED, ticket.id, cmd.reason)
    ticket = msgspec.structs.replace(ticket, state="voided")
    return Outcome(ticket, "ticket_voided")


async def attach_member(conn: asyncpg.Connection, device: DeviceCaller, cmd: AttachMember) -> Outcome:
    ticket = await _ticket_in_store(conn, device.store_id, cmd.ticket_id)
    if ticket.state != "issued":
        raise wrong_state(ticket, "attached to a member")
    if ticket.member_id == cmd.member_id:
        return Outcome(ticket, None)
    if ticket.member_id is not None:
        raise Conflict(
            f"Ticket {ticket.number} already belongs to another member.",
            TicketCodes.MEMBER_ALREADY_ATTACHED,
            member_id=str(ticket.member_id),
        )
    await conn.execute(repo.SET_MEMBER, ticket.id, cmd.member_id)
    ticket = msgspec.structs.replace(ticket, member_id=cmd.member_id)
    return Outcome(ticket, "member_attached")


async def release(conn: asyncpg.Connection, device: DeviceCaller, cmd: ReleaseTicket) -> Outcome:
    if device.kind != "handheld":
        raise Forbidden("Goods are released at the counter, from its handheld.")
    ticket = await _ticket_in_store(conn, device.store_id, cmd.ticket_id)
    # A ticket partly refunded before its goods were handed over still releases the rest of them.
    if ticket.state not in RELEASABLE or ticket.released:
        raise wrong_state(ticket, "released")
    await conn.execute(repo.SET_RELEASED, ticket.id)
    ticket = msgspec.structs.replace(ticket, state="released", released=True)
    return Outcome(ticket, "ticket_released")


# --- for checkout ------------------------------------------------------------------------------------


async def open_tickets_for(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    ticket_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
) -> list[Ticket]:
    """The open (issued) tickets a till settles together.

    Given a scanned ticket: that ticket, plus every other open ticket of its member when it has one.
    Given a member: all of the member's open tickets in the store. Another store's ticket is not found;
    a scanned ticket that is no longer open is refused with ``ticket_wrong_state``.
    """
    if ticket_id is not None:
        row = await repo.get(conn, ticket_id)
        if row is None or row["store_id"] != store_id:
            raise NotFound("ticket", ticket_id)
        if row["state"] != "issued":
            raise wrong_state(row, "paid")
        if row["member_id"] is None:
            return await repo.with_lines(conn, [row])
        member_id = row["member_id"]
    if member_id is None:
        raise AppError(Codes.BAD_REQUEST, "Scan a ticket or the member's code first.")
    rows = await conn.fetch(repo.OPEN_FOR_MEMBER, store_id, member_id)
    return await repo.with_lines(conn, rows)


async def lock(conn: asyncpg.Connection, store_id: uuid.UUID, ticket_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """Lock the tickets ``FOR UPDATE`` in id order (one statement) and return their rows in the order
    asked; a ticket not found or of another store raises NotFound (the caller rolls back)."""
    rows = {r["id"]: r for r in await conn.fetch(repo.GET_MANY_FOR_UPDATE, list(ticket_ids))}
    for tid in ticket_ids:
        row = rows.get(tid)
        if row is None or row["store_id"] != store_id:
            raise NotFound("ticket", tid)
    return [rows[tid] for tid in ticket_ids]


async def mark_paid(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    ticket_ids: list[uuid.UUID],
    checkout_id: uuid.UUID,
    *,
    checked: Sequence[Ticket] | None = None,
) -> list[Ticket]:
    """Mark open tickets paid by ``checkout_id`` and append their ``ticket_paid`` events, last in the
    caller's transaction (all or none: a ticket not open or not in the store raises, and the caller
    rolls back). The sales facts are written before the store's counter is taken.

    ``checked`` are the tickets (with their lines) as the caller locked (``lock``) and checked them;
    without it they are locked and checked here."""
    if not conn.is_in_transaction():
        raise RuntimeError("mark_paid must run inside the checkout's transaction")
    ids = list(dict.fromkeys(ticket_ids))
    if checked is None:
        rows = await lock(conn, store_id, ids)
        for row in rows:
            if row["state"] != "issued":
                raise wrong_state(row, "paid")
        checked = await repo.with_lines(conn, rows)
    await conn.execute(repo.SET_PAID, ids, checkout_id)
    paid = [msgspec.structs.replace(t, state="paid", checkout_id=checkout_id) for t in checked]
    await events.run_deferred(conn)
    await events.append_all(conn, store_id, [events.new_event("ticket_paid", t) for t in paid])
    return paid


async def mark_refunded(
    conn: asyncpg.Connection, store_id: uuid.UUID, states: Mapping[uuid.UUID, RefundState]
) -> list[Ticket]:
    """Move paid tickets to ``partly_refunded`` or ``refunded`` after a refund of their lines, appending
    ``ticket_partly_refunded`` / ``ticket_refunded`` events, in the refund's transaction. A ticket already
    in the wanted state is left alone (a further partial refund changes no state). Call it last in the
    transaction: its ``append_all`` takes the store's event counter, the last lock (held to commit)."""
    if not conn.is_in_transaction():
        raise RuntimeError("mark_refunded must run inside the refund's transaction")
    rows = {r["id"]: r for r in await conn.fetch(repo.GET_MANY_FOR_UPDATE, sorted(states))}
    changed = []
    for tid in sorted(states):
        row, wanted = rows.get(tid), states[tid]
        if row is None or row["store_id"] != store_id:
            raise NotFound("ticket", tid)
        if row["state"] == wanted:
            continue
        if row["state"] not in REFUNDABLE:
            raise wrong_state(row, wanted)
        await conn.execute(repo.SET_STATE, tid, wanted)
        (ticket,) = await repo.with_lines(conn, [row])
        changed.append(msgspec.structs.replace(ticket, state=wanted))
    if changed:
        await events.run_deferred(conn)  # the refund's and the tickets' sales facts, before the counter
        await events.append_all(conn, store_id, [events.new_event(f"ticket_{t.state}", t) for t in changed])
    return changed


# --- staff reads -----------------------------------------------------------------------------------


async def get_ticket(conn: asyncpg.Connection, store_id: uuid.UUID, ticket_id: uuid.UUID) -> Ticket:
    row = await repo.get(conn, ticket_id)
    if row is None or row["store_id"] != store_id:
        raise NotFound("ticket", ticket_id)
    (ticket,) = await repo.with_lines(conn, [row])
    return ticket


async def get_tickets(conn: asyncpg.Connection, store_id: uuid.UUID, ticket_ids: Sequence[uuid.UUID]) -> list[Ticket]:
    """The tickets in the order asked, with their lines, in two queries; NotFound names the first
    ticket missing or of another store."""
    rows = {r["id"]: r for r in await conn.fetch(repo.GET_MANY, list(ticket_ids))}
    for tid in ticket_ids:
        row = rows.get(tid)
        if row is None or row["store_id"] != store_id:
            raise NotFound("ticket", tid)
    return await repo.with_lines(conn, [rows[tid] for tid in ticket_ids])


async def list_tickets(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    *,
    state: str | None = "issued",
    member_id: uuid.UUID | None = None,
    number: str | None = None,
    limit: int = 100,
) -> list[Ticket]:
    sql, args = repo.list_query(state=state, member_id=member_id, number=number, limit=limit)
    return await repo.with_lines(conn, await conn.fetch(sql, store_id, *args))
