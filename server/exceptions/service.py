"""The exception queue: recording conflicts a device already acted on offline, listing and resolving them.

Recorded:

* a checkout the till settled offline (``settled_offline_at_ms`` set) that the server refuses for a
  conflict. ``settle`` has rolled its transaction back, so nothing of the checkout exists; the
  exception is written in a transaction of its own, once per checkout id (a resent replay finds the
  first one), and the refusal's details name it so the till can say so.
* a handheld's offline void of a ticket that was paid meanwhile, or its attaching a member to one, in
  the transaction that stores the command's refusal (once per command id, as the refusal is).

Resolved by a supervisor or manager of the store, or at a till by a cashier with a supervisor's staff
code and PIN (checked like a refund's approval, wrong PINs counting toward the lockout). Every
recording and resolution is in the audit log.

Where the cash went in the till's books (``held_in_shift_id``, ``cash_outcome``,
``given_back_in_shift_id``) is kept on the exception, written in the transaction of the movement that
puts it there (``books``); the audit entries say it too, as the record.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from protocol.checkout import CheckoutCodes, CheckoutRequest, SupervisorApproval
from protocol.errors import Codes
from protocol.exceptions import (
    FIRST_KINDS,
    ExceptionCodes,
    ExceptionKind,
    ExceptionList,
    ExceptionQuery,
    MoneyMovement,
    ResolveException,
    StoreException,
)
from protocol.ticket_codes import TicketCodes
from protocol.tickets import AttachMember, VoidTicket
from server import audit
from server.auth import approval as supervisor
from server.auth.guards import SUPERVISORS, Caller, DeviceCaller
from server.checkout.service import Who
from server.errors import AppError, Conflict, NotFound
from server.exceptions import books
from server.exceptions import repository as repo
from server.settings import Settings

_TICKET_STATES: dict[str, ExceptionKind] = {
    "voided": "ticket_voided",
    "expired": "ticket_expired",
}


def conflict_kind(exc: AppError, req: CheckoutRequest) -> ExceptionKind | None:
    """The kind of exception a checkout refusal is when the money was already taken offline, or None
    when the refusal is no conflict (a malformed request, a reused id, "try again")."""
    code = exc.code
    if code == CheckoutCodes.TENDER_SHORT and exc.details.get("total") not in (None, req.expected_total):
        return "total_changed"  # the tickets now cost more than the customer paid for
    if code == CheckoutCodes.TICKET_ALREADY_IN_CHECKOUT:
        return "paid_elsewhere"
    if code == CheckoutCodes.TICKET_NOT_OPEN:
        return _TICKET_STATES.get(str(exc.details.get("state", "")), "ticket_not_open")
    if code == TicketCodes.WRONG_STATE:
        state = str(exc.details.get("state", ""))
        paid = ("paid", "released", "partly_refunded", "refunded")  # refunded ones were paid first
        return "paid_elsewhere" if state in paid else _TICKET_STATES.get(state, "ticket_not_open")
    if code == CheckoutCodes.TOTAL_CHANGED:
        return "total_changed"
    if code == CheckoutCodes.MIXED_MEMBERS:
        return "member_changed"
    if code == Codes.NOT_FOUND and exc.details.get("object") == "ticket":
        return "unknown_ticket"
    return None


def taken_offline(req: CheckoutRequest) -> dict[str, int]:
    """Fen the till kept per tender kind: what was handed over, less the change given back in cash."""
    taken: dict[str, int] = {}
    for t in req.tenders:
        taken[t.kind] = taken.get(t.kind, 0) + t.amount
    if req.expected_total is not None and "cash" in taken:
        change = max(0, sum(taken.values()) - req.expected_total)
        taken["cash"] = max(0, taken["cash"] - change)
    return {k: v for k, v in taken.items() if v > 0}


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


_WHY = {
    "paid_elsewhere": ("the tickets were already paid by another checkout", "小票已在别处结账"),
    "ticket_voided": ("the counter voided a ticket before this payment arrived", "专柜在付款到达前已作废小票"),
    "ticket_expired": ("a ticket expired before this payment arrived", "付款到达前小票已过期"),
    "ticket_not_open": ("a ticket could no longer be paid", "小票已无法付款"),
    "total_changed": ("the tickets now come to another total", "小票金额已变化"),
    "member_changed": ("the tickets belong to another member now", "小票已属于其他会员"),
    "unknown_ticket": ("the server has no such ticket in this store", "本店没有该小票"),
}


def fix_for(
    kind: ExceptionKind, taken: dict[str, int], receipt_no: str = "", on_terminal: Sequence[tuple[str, int]] = ()
) -> tuple[list[MoneyMovement], dict[str, str]]:
    """The money movements that fix a refused offline checkout, and the sentence saying them (naming
    the customer's paper receipt when the till sent its number).

    Nothing of the checkout was settled, so the cash kept goes back to the customer (who may pay the
    tickets again if they are still open). Card and wallet charges through the provider are given back
    by the server itself; a card charged on the till's standalone terminal (``on_terminal``: its
    approval code and amount) is given back on that terminal."""
    cash = taken.get("cash", 0)
    fix = [MoneyMovement(action="refund_cash", amount=cash, tender="cash")] if cash else []
    fix += [MoneyMovement(action="refund_on_terminal", amount=amount, tender="card") for _, amount in on_terminal]
    why_en, why_zh = _WHY.get(kind, ("the checkout was refused", "结账被拒绝"))
    receipt_en = f" (receipt {receipt_no})" if receipt_no else ""
    receipt_zh = f"（收据 {receipt_no}）" if receipt_no else ""
    if cash:
        en = f"Refund {_yuan(cash)} in cash to the customer{receipt_en}: {why_en}."
        zh = f"退还顾客现金 {_yuan(cash)} 元{receipt_zh}：{why_zh}。"
    elif not on_terminal:
        en = f"No cash was kept; check the customer's payment{receipt_en}: {why_en}."
        zh = f"未收现金；请核对顾客付款{receipt_zh}：{why_zh}。"
    else:
        en, zh = f"Nothing was settled{receipt_en}: {why_en}.", f"未结账{receipt_zh}：{why_zh}。"
    for ref, amount in on_terminal:
        en += f" Give {_yuan(amount)} back to the card on the card terminal (approval {ref})."
        zh += f"请在刷卡机上向原卡退回 {_yuan(amount)} 元（原授权码 {ref}）。"
    if kind in ("total_changed", "member_changed"):
        en += " The tickets are still open: settle them again if the customer still wants them."
        zh += "小票仍未结账：如顾客仍要购买，请重新结账。"
    return fix, {"en": en, "zh": zh}


# --- recording ------------------------------------------------------------------------------------


async def record_refused_checkout(
    conn: asyncpg.Connection, who: Who, req: CheckoutRequest, exc: AppError
) -> StoreException | None:
    """Record the refusal of an offline-settled checkout as one exception (per checkout id), in a
    transaction of its own; None when the checkout was not settled offline or the refusal is no
    conflict. Adds the exception to ``exc.details["exception"]`` and says so in its message."""
    if req.settled_offline_at_ms is None:
        return None
    kind = conflict_kind(exc, req)
    if kind is None:
        return None
    if conn.is_in_transaction():
        raise RuntimeError("the exception is recorded after the refused checkout rolled back")
    taken = taken_offline(req)
    on_terminal = [(t.terminal_ref, t.amount) for t in req.tenders if t.terminal_ref is not None]
    fix, text = fix_for(kind, taken, req.offline_receipt_no or "", on_terminal)
    async with conn.transaction():
        numbers = {r["id"]: r["number"] for r in await conn.fetch(repo.TICKET_NUMBERS, req.ticket_ids, who.store_id)}
        status = await conn.execute(
            repo.INSERT,
            uuid.uuid4(),
            who.store_id,
            req.id,
            kind,
            req.id,
            None,
            req.ticket_ids,
            [numbers.get(t, "") for t in req.ticket_ids],
            who.device_id,
            who.staff_id,
            req.currency,
            repo.to_json(taken),
            repo.to_json(fix),
            repo.to_json(text),
            exc.code,
            exc.message,
            repo.to_json(req),
            req.settled_offline_at_ms,
        )
        row = await conn.fetchrow(repo.BY_SOURCE, req.id)
        if row is None or row["store_id"] != who.store_id:
            return None  # the id is another store's: say nothing about it
        found = repo.to_exception(row)
        if status.endswith(" 1"):
            held_in = await books.hold_cash(conn, who, found, req.settled_offline_at_ms)
            if held_in is not None:
                await conn.execute(repo.HELD_IN, found.id, held_in)
            await audit.record(
                conn,
                store_id=who.store_id,
                staff_id=who.staff_id,
                device_id=who.device_id,
                action="exception.recorded",
                object_type="exception",
                object_id=found.id,
                details={
                    "number": found.number,
                    "kind": kind,
                    "checkout_id": str(req.id),
                    "taken": taken,
                    "held_in_shift_id": held_in,
                },
            )
            found = repo.to_exception(await _fetch(conn, found.id))
    exc.details["exception"] = msgspec.to_builtins(found)
    exc.message = f"{exc.message} It was recorded for the manager as exception {found.number}: {text['en']}"
    return found


STILL_PAID = ("paid", "released", "partly_refunded")
"""A ticket the customer paid for and did not get all the money back for (a refunded ticket's money went
back already: nothing is left for the manager to settle)."""


def _after_payment_text(kind: ExceptionKind, number: str) -> dict[str, str]:
    if kind == "attach_after_payment":
        return {
            "en": f"Ticket {number} was paid before the counter's attaching it to a member arrived: the member "
            "earned nothing for it. If they ask, attach the purchase to them afterwards from the receipt.",
            "zh": f"小票 {number} 在专柜关联会员之前已付款：会员未获得积分。如会员要求，请凭收据补登积分。",
        }
    return {
        "en": f"Ticket {number} was voided at the counter after the customer paid for it: check with the counter "
        "whether the goods were handed over; refund the customer only if they return them.",
        "zh": f"小票 {number} 在顾客付款后被专柜作废：请与专柜核实是否已交付商品；仅在顾客退货时退款。",
    }


async def record_refused_command(
    conn: asyncpg.Connection, device: DeviceCaller, cmd: VoidTicket | AttachMember, exc: AppError
) -> StoreException | None:
    """A handheld's offline command refused because the customer paid for the ticket meanwhile: a void
    (were the goods handed over?) or attaching a member (who earned nothing for it). Recorded inside
    the caller's transaction, which stores the refusal, once per command id; no money moves."""
    if exc.code != TicketCodes.WRONG_STATE or exc.details.get("state") not in STILL_PAID:
        return None
    ticket = await conn.fetchrow(
        "SELECT number, checkout_id, currency FROM ticket WHERE id = $1 AND store_id = $2",
        cmd.ticket_id,
        device.store_id,
    )
    if ticket is None:
        return None
    number = ticket["number"]
    kind: ExceptionKind = "attach_after_payment" if isinstance(cmd, AttachMember) else "void_after_payment"
    status = await conn.execute(
        repo.INSERT,
        uuid.uuid4(),
        device.store_id,
        cmd.command_id,
        kind,
        ticket["checkout_id"],
        cmd.command_id,
        [cmd.ticket_id],
        [number],
        device.device_id,
        None,
        ticket["currency"],
        "{}",
        "[]",
        repo.to_json(_after_payment_text(kind, number)),
        exc.code,
        exc.message,
        repo.to_json(cmd),
        cmd.made_at_ms or None,
    )
    row = await conn.fetchrow(repo.BY_SOURCE, cmd.command_id)
    if row is None or row["store_id"] != device.store_id:
        return None
    found = repo.to_exception(row)
    if status.endswith(" 1"):
        await audit.record(
            conn,
            store_id=device.store_id,
            staff_id=None,
            device_id=device.device_id,
            action="exception.recorded",
            object_type="exception",
            object_id=found.id,
            details={"number": found.number, "kind": found.kind, "command_id": str(cmd.command_id)},
        )
    return found


# --- reading --------------------------------------------------------------------------------------


async def list_exceptions(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    status: str | None,
    limit: int,
    offset: int,
    kinds: Sequence[str] | None = None,
) -> ExceptionList:
    """One page of the store's queue, newest first (of the given kinds only, when given)."""
    wanted = list(kinds) if kinds is not None else None
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(repo.PAGE, store_id, status, limit, offset, wanted)
        total = int(await conn.fetchval(repo.COUNT, store_id, status, wanted))
    return ExceptionList(exceptions=[repo.to_exception(r) for r in rows], total=total, limit=limit, offset=offset)


async def get_exception(conn: asyncpg.Connection, caller: Caller, exception_id: uuid.UUID) -> StoreException:
    row = await conn.fetchrow(repo.BY_ID, exception_id)
    if row is None or row["store_id"] != caller.store_id:
        raise NotFound("exception", exception_id)
    return repo.to_exception(row)


async def open_count(conn: asyncpg.Connection, store_id: uuid.UUID) -> int:
    return int(await conn.fetchval(repo.OPEN_COUNT, store_id))


async def till_queue(
    conn: asyncpg.Connection, caller: Caller, query: ExceptionQuery, settings: Settings
) -> ExceptionList:
    """The queue as a till shows it: a cashier needs a supervisor's approval to see it. Only the kinds
    the till says it knows (a till that says nothing knows the first ones)."""
    await approver(conn, caller, query.approval, settings, "exception.queue_approval_refused", "")
    kinds = query.kinds if query.kinds is not None else FIRST_KINDS
    return await list_exceptions(conn, caller.store_id, query.status, query.limit, query.offset, kinds)


# --- resolving ------------------------------------------------------------------------------------


async def resolve(
    conn: asyncpg.Connection, caller: Caller, exception_id: uuid.UUID, req: ResolveException, settings: Settings
) -> StoreException:
    """Mark an open exception resolved with what was done; a second resolution is refused."""
    note = req.note.strip()
    if not note:
        raise AppError(
            ExceptionCodes.NOTE_REQUIRED,
            "Say what was done (e.g. 'refunded 60.00 cash') before resolving.",
            details={"field": "note"},
        )
    current = await get_exception(conn, caller, exception_id)
    if current.status == "resolved":
        raise _already(current)
    by = await approver(conn, caller, req.approval, settings, "exception.approval_refused", exception_id)
    outcome = (req.cash_outcome or "given_back") if books.cash_of(current) else ""
    async with conn.transaction():
        row = await conn.fetchrow(repo.LOCK, exception_id)
        assert row is not None  # exceptions are never deleted
        if row["status"] != "open":
            raise _already(repo.to_exception(await _fetch(conn, exception_id)))
        given_back_in = await books.give_back_cash(conn, caller, current, by) if outcome == "given_back" else None
        await conn.execute(repo.RESOLVE, exception_id, by, note, outcome, given_back_in)
        await audit.record(
            conn,
            store_id=caller.store_id,
            staff_id=caller.staff_id,
            device_id=caller.device_id,
            action="exception.resolved",
            object_type="exception",
            object_id=exception_id,
            details={
                "number": current.number,
                "kind": current.kind,
                "resolved_by": str(by),
                "note": note,
                "fix": msgspec.to_builtins(current.fix),
                "cash_outcome": outcome,
                "given_back_in_shift_id": given_back_in,
            },
        )
        return repo.to_exception(await _fetch(conn, exception_id))


async def _fetch(conn: asyncpg.Connection, exception_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(repo.BY_ID, exception_id)
    assert row is not None
    return row


def _already(e: StoreException) -> Conflict:
    who = e.resolved_by_name or str(e.resolved_by)
    return Conflict(
        f"Exception {e.number} was already resolved by {who}; nothing more to do.",
        ExceptionCodes.ALREADY_RESOLVED,
        exception_id=str(e.id),
        resolved_by=str(e.resolved_by),
        resolved_at_ms=e.resolved_at_ms,
    )


async def approver(
    conn: asyncpg.Connection,
    caller: Caller,
    approval: SupervisorApproval | None,
    settings: Settings,
    refused_action: str,
    object_id: uuid.UUID | str,
) -> uuid.UUID:
    """Who answers for the action: the caller when a supervisor or manager, else the supervisor whose
    staff code and PIN came in ``approval`` (checked as a refund's approval)."""
    if approval is None:
        if caller.role in SUPERVISORS:
            return caller.staff_id
        raise AppError(
            ExceptionCodes.APPROVAL_REQUIRED,
            "The exception queue is for supervisors: ask one to enter their staff code and PIN.",
            status=403,
        )
    staff_id = await supervisor.approver(conn, settings, caller.store_id, approval.staff_code, approval.pin)
    if staff_id is None:
        await audit.record(
            conn,
            store_id=caller.store_id,
            staff_id=caller.staff_id,
            device_id=caller.device_id,
            action=refused_action,
            object_type="exception",
            object_id=object_id,
            details={"approver_code": approval.staff_code},
        )
        raise AppError(
            ExceptionCodes.APPROVAL_REFUSED,
            "That approval was refused: it needs the staff code and PIN of a supervisor or manager of this store.",
            status=403,
        )
    return staff_id
