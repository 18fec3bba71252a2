"""Ledger operations checkout and the tills call, each inside the caller's transaction.

Every function takes an asyncpg connection that is already in a transaction and writes nothing
outside it, so a checkout settles its tickets, tenders and member movements atomically.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
import msgspec

from protocol.members import (
    AccountBalance,
    Balances,
    HoldResult,
    MemberCodes,
    StatementEntry,
    StatementPage,
    TopUpResult,
)
from server.errors import AppError, Conflict, NotFound
from server.ledger import repository as sql
from server.ledger.posting import (
    KIND_WORDS,
    KINDS,
    atomic,
    begin_movement,
    derived_id,
    finish_movement,
    insufficient,
    member_account,
    member_for_store,
    post,
    scope_key,
    system_account,
)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise AppError("validation_failed", f"Unknown account {kind!r}; use one of {', '.join(KINDS)}.")
    return kind


@atomic
async def top_up(
    conn: asyncpg.Connection,
    *,
    movement_id: uuid.UUID,
    store_id: uuid.UUID,
    member_id: uuid.UUID,
    amount: int,
    till_id: uuid.UUID | None = None,
    shift_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
) -> TopUpResult:
    """Add prepaid money to the member's stored value, recorded against the till and shift that took it."""
    if amount <= 0:
        raise AppError("validation_failed", "A top-up must be more than zero.")
    member = await member_for_store(conn, store_id, member_id)
    request = {"member_id": member_id, "amount": amount, "till_id": till_id, "shift_id": shift_id}
    reference = f"till:{till_id or '-'}/shift:{shift_id or '-'}"
    done = await begin_movement(
        conn,
        movement_id,
        "top_up",
        request,
        store_id=store_id,
        member_id=member,
        reference=reference,
        reason="stored-value top-up",
        staff_id=staff_id,
    )
    if done is not None:
        return msgspec.convert(done, TopUpResult)
    account = await member_account(conn, member, "stored_value", store_id)
    cash = await system_account(conn, "top_up_cash", "stored_value", store_id)
    await post(conn, movement_id, [(cash, -amount, False), (account, amount, True)])
    balance = await conn.fetchval("SELECT balance FROM ledger_account WHERE id = $1", account)
    result = TopUpResult(movement_id=movement_id, member_id=member, amount=amount, stored_value=int(balance))
    await finish_movement(conn, movement_id, result)
    return result


# --- holds -----------------------------------------------------------------------------------------


def _hold_result(row: asyncpg.Record) -> HoldResult:
    return HoldResult(
        hold_id=row["id"],
        kind=row["kind"],
        amount=int(row["amount"]),
        captured=int(row["captured"]),
        state=row["state"],
        expires_at=row["expires_at"],
    )


@atomic
async def hold(
    conn: asyncpg.Connection,
    *,
    hold_id: uuid.UUID,
    store_id: uuid.UUID,
    member_id: uuid.UUID,
    account: str,
    amount: int,
    expires_at: datetime,
    categories: Sequence[str] | None = None,
    reference: str = "",
    device_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> HoldResult:
    """Reserve ``amount`` of the member's ``account`` (points, e_coin, stored_value) at checkout start.

    Raises ``insufficient_balance`` (409) if the available balance is short, also when another till
    reserves the same money at the same moment. E-coin is taken from lots usable at ``store_id`` and,
    for category-limited lots, only when every one of ``categories`` is allowed. Repeating ``hold_id``
    returns the same hold."""
    kind = _kind(account)
    if amount <= 0:
        raise AppError("validation_failed", "A hold must be more than zero.")
    member = await member_for_store(conn, store_id, member_id)
    request = {
        "member_id": member_id,
        "account": kind,
        "amount": amount,
        "expires_at": expires_at,
        "categories": sorted(categories) if categories is not None else None,
        "reference": reference,
        "device_id": device_id,
    }
    done = await begin_movement(
        conn,
        hold_id,
        "hold",
        request,
        store_id=store_id,
        member_id=member,
        reference=reference,
        reason=f"reserve {KIND_WORDS[kind]}",
    )
    if done is not None:
        row = await conn.fetchrow(sql.HOLD_FOR_UPDATE, hold_id)
        assert row is not None
        return _hold_result(row)
    available = await member_account(conn, member, kind, store_id)
    held = await member_account(conn, member, kind, store_id, held=True)
    lots: list[list[object]] = []
    if kind == "e_coin":
        cats = list(categories) if categories is not None else None
        need = amount
        for lot in await conn.fetch(sql.USABLE_LOTS, available, _now(now), store_id, cats):
            if need == 0:
                break
            take = min(need, int(lot["remaining"]))
            await conn.execute(sql.TAKE_FROM_LOT, lot["id"], take)
            lots.append([str(lot["id"]), take])
            need -= take
        if need > 0:
            raise insufficient(kind, amount, usable=amount - need)
    await post(conn, hold_id, [(available, -amount, True), (held, amount, True)])
    await conn.execute(
        sql.INSERT_HOLD,
        hold_id,
        store_id,
        member,
        kind,
        available,
        held,
        amount,
        expires_at,
        device_id,
        json.dumps(lots),
        reference,
    )
    row = await conn.fetchrow(sql.HOLD_FOR_UPDATE, hold_id)
    assert row is not None
    result = _hold_result(row)
    await finish_movement(conn, hold_id, result)
    return result


async def locked_hold(conn: asyncpg.Connection, hold_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(sql.HOLD_FOR_UPDATE, hold_id)
    if row is None:
        raise NotFound("hold", hold_id)
    return row


async def _give_back(conn: asyncpg.Connection, row: asyncpg.Record, amount: int) -> list[list[object]]:
    """Return ``amount`` of a closed-out e-coin hold to the lots it came from (latest taken first)."""
    lots: list[list[object]] = json.loads(row["lots"])
    left = amount
    for alloc in reversed(lots):
        if left == 0:
            break
        give = min(left, int(str(alloc[1])))
        if give:
            await conn.execute(sql.GIVE_TO_LOT, uuid.UUID(str(alloc[0])), give)
            alloc[1] = int(str(alloc[1])) - give
            left -= give
    return lots


async def close_hold(conn: asyncpg.Connection, row: asyncpg.Record, captured: int, movement_id: uuid.UUID) -> None:
    remainder = int(row["amount"]) - captured
    lots = json.loads(row["lots"])
    if remainder:
        await begin_movement(
            conn,
            movement_id,
            "release",
            {"hold_id": row["id"], "amount": remainder},
            store_id=row["store_id"],
            member_id=row["member_id"],
            reference=row["reference"],
            reason=f"release reserved {KIND_WORDS[row['kind']]}",
        )
        await post(
            conn,
            movement_id,
            [(row["held_account_id"], -remainder, True), (row["available_account_id"], remainder, True)],
        )
        if row["kind"] == "e_coin":
            lots = await _give_back(conn, row, remainder)
        await finish_movement(conn, movement_id, {"hold_id": str(row["id"]), "released": remainder})
    state = "captured" if captured else "released"
    await conn.execute(sql.UPDATE_HOLD, row["id"], captured, state, json.dumps(lots))


async def take_from_hold(
    conn: asyncpg.Connection, row: asyncpg.Record, movement_id: uuid.UUID, amount: int, reference: str
) -> None:
    tender = await system_account(conn, "tender", row["kind"], row["store_id"])
    await post(conn, movement_id, [(row["held_account_id"], -amount, True), (tender, amount, False)])


@atomic
async def capture(
    conn: asyncpg.Connection,
    hold_id: uuid.UUID,
    *,
    reference: str,
    amount: int | None = None,
    now: datetime | None = None,
) -> HoldResult:
    """Spend a hold on settlement: take ``amount`` (default all of it) and release the rest.

    Repeating a capture of a captured hold returns it unchanged; capturing a released or expired hold
    is refused."""
    row = await locked_hold(conn, hold_id)
    if row["state"] == "captured":
        return _hold_result(row)
    if row["state"] != "open":
        raise Conflict("This reservation was already released; reserve the amount again.", MemberCodes.HOLD_CLOSED)
    if row["expires_at"] <= _now(now):
        raise Conflict("This reservation has expired; reserve the amount again.", MemberCodes.HOLD_EXPIRED)
    remaining = int(row["amount"]) - int(row["captured"])
    take = remaining if amount is None else amount
    if take <= 0 or take > remaining:
        raise Conflict(
            f"Only {remaining} is reserved; capture at most that.", MemberCodes.CAPTURE_EXCEEDS_HOLD, reserved=remaining
        )
    movement = derived_id(hold_id, "capture")
    await begin_movement(
        conn,
        movement,
        "capture",
        {"hold_id": hold_id, "amount": take, "reference": reference},
        store_id=row["store_id"],
        member_id=row["member_id"],
        reference=reference,
        reason=f"spend {KIND_WORDS[row['kind']]}",
    )
    await take_from_hold(conn, row, movement, take, reference)
    await finish_movement(conn, movement, {"hold_id": str(hold_id), "captured": take})
    await close_hold(conn, row, int(row["captured"]) + take, derived_id(hold_id, "release"))
    return _hold_result(await locked_hold(conn, hold_id))


@atomic
async def release(conn: asyncpg.Connection, hold_id: uuid.UUID) -> HoldResult:
    """Give a hold back to the member's available balance (checkout aborted). Repeating it is harmless;
    releasing a captured hold is refused (refund it instead)."""
    row = await locked_hold(conn, hold_id)
    if row["state"] == "released":
        return _hold_result(row)
    if row["state"] == "captured":
        raise Conflict("This reservation was already spent; refund it instead.", MemberCodes.HOLD_CLOSED)
    await close_hold(conn, row, int(row["captured"]), derived_id(hold_id, "release"))
    return _hold_result(await locked_hold(conn, hold_id))


@atomic
async def refund_tender(
    conn: asyncpg.Connection, *, movement_id: uuid.UUID, hold_id: uuid.UUID, amount: int
) -> HoldResult:
    """Give back points, e-coin or stored value spent through ``hold_id`` (a refund or return).

    Returned e-coin gets the expiry and limits of the lot it was first taken from."""
    row = await locked_hold(conn, hold_id)
    done = await begin_movement(
        conn,
        movement_id,
        "refund_tender",
        {"hold_id": hold_id, "amount": amount},
        store_id=row["store_id"],
        member_id=row["member_id"],
        reference=row["reference"],
        reason=f"refund spent {KIND_WORDS[row['kind']]}",
    )
    if done is not None:
        return _hold_result(row)
    open_to_refund = int(row["captured"]) - int(row["refunded"])
    if amount <= 0 or amount > open_to_refund:
        raise Conflict(
            f"Only {open_to_refund} of this payment can still be refunded.",
            MemberCodes.REFUND_EXCEEDS_PURCHASE,
            refundable=open_to_refund,
        )
    tender = await system_account(conn, "tender", row["kind"], row["store_id"])
    await post(conn, movement_id, [(tender, -amount, False), (row["available_account_id"], amount, True)])
    if row["kind"] == "e_coin":
        lots = json.loads(row["lots"])
        first = await conn.fetchrow(sql.LOT_ROW, uuid.UUID(lots[0][0])) if lots else None
        await conn.execute(
            sql.INSERT_LOT,
            derived_id(movement_id, "lot"),
            row["available_account_id"],
            movement_id,
            first["campaign_id"] if first else None,
            amount,
            first["expires_at"] if first else None,
            first["store_ids"] if first else None,
            first["categories"] if first else None,
        )
    await conn.execute(sql.ADD_REFUNDED, hold_id, amount)
    result = _hold_result(row)
    await finish_movement(conn, movement_id, result)
    return result


# --- reading ---------------------------------------------------------------------------------------


async def balances(
    conn: asyncpg.Connection, member_id: uuid.UUID, store_id: uuid.UUID, *, chain_wide: bool = False
) -> Balances:
    """What the member can spend at ``store_id`` per kind, and every account (split by store/format)."""
    member = await member_for_store(conn, store_id, member_id, chain_wide=chain_wide)
    rows = await conn.fetch(sql.MEMBER_ACCOUNTS, [member])
    here = {kind: await scope_key(conn, kind, store_id) for kind in KINDS}
    by_key: dict[tuple[str, uuid.UUID | None, uuid.UUID | None], list[int]] = {}
    spendable = dict.fromkeys(KINDS, 0)
    for r in rows:
        slot = by_key.setdefault((r["kind"], r["store_id"], r["format_id"]), [0, 0])
        slot[1 if r["held"] else 0] += int(r["balance"])
        if not r["held"] and (r["store_id"], r["format_id"]) == here[r["kind"]]:
            spendable[r["kind"]] = int(r["balance"])
    accounts = [
        AccountBalance(kind=k, store_id=s, format_id=f, available=v[0], held=v[1])  # type: ignore[arg-type]
        for (k, s, f), v in by_key.items()
        if v != [0, 0]
    ]
    tier = await conn.fetchval("SELECT tier_code FROM member WHERE id = $1", member)
    return Balances(
        member_id=member,
        store_id=store_id,
        tier=tier,
        points=spendable["points"],
        e_coin=spendable["e_coin"],
        stored_value=spendable["stored_value"],
        accounts=accounts,
    )


async def statement(
    conn: asyncpg.Connection,
    member_id: uuid.UUID,
    store_id: uuid.UUID,
    *,
    cursor: int | None = None,
    limit: int = 50,
    chain_wide: bool = False,
) -> StatementPage:
    """Every entry on the member's accounts (and on records merged into it), newest first."""
    member = await member_for_store(conn, store_id, member_id, chain_wide=chain_wide)
    family = [r["id"] for r in await conn.fetch(sql.MERGED_FAMILY, member)]
    limit = max(1, min(limit, 200))
    rows = await conn.fetch(sql.STATEMENT, family, cursor, limit + 1)
    entries = [StatementEntry(**dict(r)) for r in rows[:limit]]
    return StatementPage(entries=entries, next_cursor=entries[-1].entry_id if len(rows) > limit else None)
