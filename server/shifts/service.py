"""Till shifts: open with a float, record every tender and cash movement, X and Z reports.

One open shift per till (a partial unique index). Movements lock their shift ``FOR SHARE`` and
closing locks it ``FOR UPDATE``, so nothing lands in a shift after its Z report was taken.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

import asyncpg
import msgspec

from protocol.ids import new_id
from protocol.payments import (
    TENDER_KINDS,
    CashMovement,
    CloseShift,
    Movement,
    MovementKind,
    OpenShift,
    PaymentCodes,
    Shift,
    ShiftReport,
    TenderKind,
    TenderLine,
)
from server.auth.guards import SUPERVISORS, Caller
from server.errors import AppError, Conflict, NotFound
from server.payments.audit import audit
from server.shifts import repository as repo

# Which way each movement moves money: +1 into the drawer (or tender total), -1 out of it.
DIRECTION: dict[str, int] = {
    "float": 1,
    "sale": 1,
    "top_up": 1,
    "pay_in": 1,
    "change": -1,
    "refund": -1,
    "pay_out": -1,
    "drop": -1,
}
TenderMovement = Literal["sale", "change", "refund", "top_up", "pay_in", "pay_out", "drop"]
_TENDER_MOVEMENTS = frozenset(DIRECTION) - {"float"}


async def open_shift(conn: asyncpg.Connection, caller: Caller, data: OpenShift) -> Shift:
    """Open a shift on a till with its float. A retry with the same shift id is a replay."""
    till_id = data.till_id or caller.device_id
    if till_id is None:
        raise AppError(PaymentCodes.NOT_A_TILL, "Say which till the shift is for, or sign in on the till itself.")
    async with conn.transaction():
        existing = await conn.fetchrow(repo.SELECT_SHIFT, data.shift_id)
        if existing is not None:
            if existing["store_id"] != caller.store_id:
                raise NotFound("shift", data.shift_id)
            same = (existing["till_id"], existing["cashier_id"], existing["float_amount"])
            if same != (till_id, caller.staff_id, data.float_amount):
                raise Conflict(
                    "This shift id was already used for another shift; make a new shift id.",
                    PaymentCodes.SHIFT_ID_REUSED,
                )
            return repo.to_shift(existing)
        till = await conn.fetchrow(repo.SELECT_TILL, till_id)
        if till is None or till["store_id"] != caller.store_id:
            raise NotFound("till", till_id)
        if till["kind"] != "till" or till["state"] == "revoked":
            raise AppError(PaymentCodes.NOT_A_TILL, "Shifts are opened on an enrolled till, not on this device.")
        open_now = await conn.fetchrow(repo.SELECT_OPEN_ON_TILL, till_id)
        if open_now is not None:
            raise _already_open(open_now)
        try:
            async with conn.transaction():
                row = await conn.fetchrow(
                    repo.INSERT_SHIFT, data.shift_id, caller.store_id, till_id, caller.staff_id, data.float_amount
                )
        except asyncpg.UniqueViolationError:  # another cashier opened this till a moment ago
            other = await conn.fetchrow(repo.SELECT_OPEN_ON_TILL, till_id)
            raise _already_open(other) from None
        assert row is not None
        await conn.execute(
            repo.INSERT_MOVEMENT,
            new_id(),
            data.shift_id,
            "float",
            "cash",
            data.float_amount,
            "",
            "",
            caller.staff_id,
            None,
        )
        await audit(
            conn,
            store_id=caller.store_id,
            staff_id=caller.staff_id,
            device_id=caller.device_id,
            action="shift.opened",
            object_type="shift",
            object_id=data.shift_id,
            details={"till_id": str(till_id), "float": data.float_amount},
        )
    return repo.to_shift(row)


async def record_tender(
    conn: asyncpg.Connection,
    *,
    shift_id: uuid.UUID,
    kind: TenderMovement,
    amount: int,
    reference: str,
    tender: TenderKind = "cash",
    staff_id: uuid.UUID | None = None,
    note: str = "",
    movement_id: uuid.UUID | None = None,
    exception_id: uuid.UUID | None = None,
) -> Movement:
    """Record money taken or given at the till in an open shift (for checkout, refunds, top-ups).

    ``kind``: ``sale`` (a tender received), ``change`` (cash given back), ``refund``, ``top_up``
    (stored value bought), ``pay_in``/``pay_out``/``drop`` (cash in or out of the drawer).
    ``amount`` is positive fen; the direction follows from ``kind``. A non-empty ``reference``
    (e.g. the checkout id) makes the call idempotent per (shift, kind, tender, reference). Runs in
    the caller's transaction when there is one. ``exception_id`` marks the cash of an exception
    (``exception_cash``).
    """
    if kind not in DIRECTION or kind not in _TENDER_MOVEMENTS:
        raise ValueError(f"not a shift movement: {kind}")
    if tender not in TENDER_KINDS:
        raise ValueError(f"not a tender: {tender}")
    if amount <= 0:
        raise ValueError("amount must be positive fen; the kind gives the direction")
    signed = DIRECTION[kind] * amount
    async with conn.transaction():
        shift = await conn.fetchrow(repo.SELECT_SHIFT_FOR_SHARE, shift_id)
        if shift is None:
            raise NotFound("shift", shift_id)
        if shift["status"] != "open":
            raise Conflict("This shift is closed; open a new shift on the till first.", PaymentCodes.SHIFT_CLOSED)
        mid = movement_id or new_id()
        row = await conn.fetchrow(
            repo.INSERT_MOVEMENT, mid, shift_id, kind, tender, signed, reference, note, staff_id, exception_id
        )
        if row is None:  # a replay by id or by reference
            row = await conn.fetchrow(repo.SELECT_MOVEMENT_BY_ID, mid)
            if row is None and reference:
                row = await conn.fetchrow(repo.SELECT_MOVEMENT_BY_REFERENCE, shift_id, kind, tender, reference)
            assert row is not None
            found = (row["shift_id"], row["kind"], row["tender"], row["amount"], row["exception_id"])
            if found != (shift_id, kind, tender, signed, exception_id):
                raise Conflict(
                    "This movement was already recorded with different figures; make a new id.",
                    PaymentCodes.MOVEMENT_ID_REUSED,
                    field="amount",
                )
    return repo.to_movement(row)


EXCEPTION_REFERENCE = "exception:"
"""Reference prefix of the cash movements of an exception (``exception:<id>``)."""
ExceptionCashWay = Literal["held", "given_back"]


async def exception_cash(
    conn: asyncpg.Connection,
    *,
    shift_id: uuid.UUID,
    exception_id: uuid.UUID,
    way: ExceptionCashWay,
    amount: int,
    staff_id: uuid.UUID | None,
    note: str = "",
) -> Movement:
    """Cash of a refused offline checkout in the till's books: ``held`` when it is in the drawer of the
    shift (it counts in the expected cash), ``given_back`` when it left a drawer for the customer.

    Recorded as a cash pay-in or pay-out linked to the exception (``exception_id``; referenced
    ``exception:<id>``), once per shift and way; the X and Z reports show it on its own line
    (``exceptions_held``, ``exceptions_given_back``), never in paid in or out. Raises ``Conflict``
    (``shift_closed``) when the shift closed meanwhile.
    """
    return await record_tender(
        conn,
        shift_id=shift_id,
        kind="pay_in" if way == "held" else "pay_out",
        amount=amount,
        reference=f"{EXCEPTION_REFERENCE}{exception_id}",
        tender="cash",
        staff_id=staff_id,
        note=note,
        exception_id=exception_id,
    )


async def cash_movement(conn: asyncpg.Connection, caller: Caller, shift_id: uuid.UUID, data: CashMovement) -> Movement:
    """A pay-in, pay-out or cash drop made by the shift's cashier or a supervisor."""
    async with conn.transaction():
        await _own_shift(conn, caller, shift_id)
        movement = await record_tender(
            conn,
            shift_id=shift_id,
            kind=data.kind,
            amount=data.amount,
            reference="",
            staff_id=caller.staff_id,
            note=data.note,
            movement_id=data.movement_id,
        )
        await audit(
            conn,
            store_id=caller.store_id,
            staff_id=caller.staff_id,
            device_id=caller.device_id,
            action=f"shift.{data.kind}",
            object_type="shift",
            object_id=shift_id,
            details={"amount": data.amount, "note": data.note, "movement_id": str(data.movement_id)},
        )
    return movement


async def get_shift(conn: asyncpg.Connection, caller: Caller, shift_id: uuid.UUID) -> Shift:
    row = await conn.fetchrow(repo.SELECT_SHIFT, shift_id)
    if row is None or not caller.may_see_store(row["store_id"]):
        raise NotFound("shift", shift_id)
    return repo.to_shift(row)


async def current_shift(conn: asyncpg.Connection, caller: Caller, till_id: uuid.UUID | None) -> Shift:
    till = till_id or caller.device_id
    row = await conn.fetchrow(repo.SELECT_OPEN_ON_TILL, till) if till else None
    if row is None or not caller.may_see_store(row["store_id"]):
        raise NotFound("open shift on this till")
    return repo.to_shift(row)


async def report(conn: asyncpg.Connection, caller: Caller, shift_id: uuid.UUID) -> ShiftReport:
    """The X report of an open shift, or the Z report a closed shift was closed with."""
    shift = await get_shift(conn, caller, shift_id)
    if shift.status == "closed":
        return msgspec.json.decode(await conn.fetchval(repo.SELECT_Z_REPORT, shift_id), type=ShiftReport)
    return await _compute(conn, shift, final=False)


async def close_shift(conn: asyncpg.Connection, caller: Caller, shift_id: uuid.UUID, data: CloseShift) -> ShiftReport:
    """Close with the counted cash; the Z report gives expected, counted and over/short per tender.
    Closing a closed shift answers its Z report again."""
    bad = sorted(set(data.counted) - set(TENDER_KINDS))
    if bad:
        raise AppError(
            "validation_failed",
            f"Unknown tender {bad[0]!r}; count one of {', '.join(TENDER_KINDS)}.",
            details={"field": "counted"},
        )
    async with conn.transaction():
        row = await conn.fetchrow(repo.SELECT_SHIFT_FOR_UPDATE, shift_id)
        if row is None or not caller.may_see_store(row["store_id"]):
            raise NotFound("shift", shift_id)
        if row["status"] == "closed":
            return msgspec.json.decode(row["z_report"], type=ShiftReport)
        _may_act(caller, row)
        counted: dict[str, int] = dict(data.counted) | {"cash": data.counted_cash}
        closing = repo.to_shift(row)
        z = await _compute(conn, closing, final=True, counted=counted)
        closed = await conn.fetchrow(repo.CLOSE_SHIFT, shift_id, caller.staff_id, msgspec.json.encode(z).decode())
        assert closed is not None
        z = msgspec.structs.replace(z, shift=repo.to_shift(closed))
        await conn.execute(
            "UPDATE shift SET z_report = $2::text::jsonb WHERE id = $1", shift_id, msgspec.json.encode(z).decode()
        )
        cash = next(t for t in z.tenders if t.tender == "cash")
        await audit(
            conn,
            store_id=row["store_id"],
            staff_id=caller.staff_id,
            device_id=caller.device_id,
            action="shift.closed",
            object_type="shift",
            object_id=shift_id,
            details={"expected_cash": cash.expected, "counted_cash": cash.counted, "difference": cash.difference},
        )
    return z


# --- internals ------------------------------------------------------------------------------------


def _already_open(row: Any) -> Conflict:
    return Conflict(
        "This till already has an open shift; close it (Z report) before opening another.",
        PaymentCodes.SHIFT_ALREADY_OPEN,
        shift_id=str(row["id"]) if row else None,
        cashier_id=str(row["cashier_id"]) if row else None,
    )


def _may_act(caller: Caller, row: Any) -> None:
    if caller.staff_id != row["cashier_id"] and caller.role not in SUPERVISORS:
        raise AppError(
            PaymentCodes.SHIFT_NOT_YOURS, "Only the shift's own cashier or a supervisor may do this.", status=403
        )


async def _own_shift(conn: asyncpg.Connection, caller: Caller, shift_id: uuid.UUID) -> None:
    row = await conn.fetchrow(repo.SELECT_SHIFT, shift_id)
    if row is None or not caller.may_see_store(row["store_id"]):
        raise NotFound("shift", shift_id)
    _may_act(caller, row)


_FIELD = {
    "float": "float_amount",
    "sale": "sales",
    "change": "change",
    "refund": "refunds",
    "top_up": "top_ups",
    "pay_in": "pay_ins",
    "pay_out": "pay_outs",
    "drop": "drops",
}
_EXCEPTION_FIELD = {"pay_in": "exceptions_held", "pay_out": "exceptions_given_back"}


async def _compute(
    conn: asyncpg.Connection, shift: Shift, *, final: bool, counted: dict[str, int] | None = None
) -> ShiftReport:
    figures: dict[str, dict[str, int]] = {"cash": {}}
    refund_count = 0
    for r in await conn.fetch(repo.TOTALS, shift.id):
        line = figures.setdefault(r["tender"], {})
        kind: MovementKind = r["kind"]
        field = _EXCEPTION_FIELD.get(kind, _FIELD[kind]) if r["exception"] else _FIELD[kind]
        line[field] = abs(int(r["total"]))
        line["expected"] = line.get("expected", 0) + int(r["total"])
        if kind != "float":
            line["count"] = line.get("count", 0) + int(r["n"])
        if kind == "refund":
            refund_count += int(r["n"])
    for tender in counted or {}:
        figures.setdefault(tender, {})
    lines = []
    for tender in TENDER_KINDS:
        if tender not in figures:
            continue
        f = figures[tender]
        got = (counted or {}).get(tender)
        expected = f.get("expected", 0)
        lines.append(
            TenderLine(
                tender=tender,
                **{k: v for k, v in f.items() if k != "expected"},
                expected=expected,
                counted=got,
                difference=None if got is None else got - expected,
            )
        )
    return ShiftReport(
        shift=shift, final=final, tenders=lines, refund_count=refund_count, generated_at_ms=int(time.time() * 1000)
    )
