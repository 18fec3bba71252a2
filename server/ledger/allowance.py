"""Offline spending allowance (escrow): part of a member's balance reserved for one till.

Granting is a hold owned by the till's device. While offline the till spends against it (never
beyond it, by its own count); on sync it uploads each spend with an id it made, and the server
captures it from the hold. A repeated spend id returns the first result; spends beyond what is left
are refused; returning the allowance releases the rest. Nothing can be spent twice: the money sits in
the held account until captured or released.
"""

from __future__ import annotations

import uuid

import asyncpg

from protocol.members import Allowance, AllowanceGrant, AllowanceSpend, MemberCodes
from server.errors import Conflict, NotFound
from server.ledger.posting import KIND_WORDS, atomic, begin_movement, derived_id, finish_movement
from server.ledger.service import close_hold, hold, locked_hold, take_from_hold


def _view(row: asyncpg.Record) -> Allowance:
    return Allowance(
        allowance_id=row["id"],
        member_id=row["member_id"],
        kind=row["kind"],
        amount=int(row["amount"]),
        spent=int(row["captured"]),
        state=row["state"],
        expires_at=row["expires_at"],
    )


async def _mine(conn: asyncpg.Connection, allowance_id: uuid.UUID, device_id: uuid.UUID) -> asyncpg.Record:
    row = await locked_hold(conn, allowance_id)
    if row["device_id"] != device_id:
        raise NotFound("allowance", allowance_id)
    return row


@atomic
async def grant(
    conn: asyncpg.Connection, *, store_id: uuid.UUID, device_id: uuid.UUID, request: AllowanceGrant
) -> Allowance:
    """Reserve an allowance for ``device_id``; refused with insufficient_balance like any hold."""
    await hold(
        conn,
        hold_id=request.allowance_id,
        store_id=store_id,
        member_id=request.member_id,
        account=request.kind,
        amount=request.amount,
        expires_at=request.expires_at,
        reference=f"allowance:{device_id}",
        device_id=device_id,
    )
    return _view(await _mine(conn, request.allowance_id, device_id))


@atomic
async def spend(
    conn: asyncpg.Connection, *, allowance_id: uuid.UUID, device_id: uuid.UUID, request: AllowanceSpend
) -> Allowance:
    """Record one offline spend against the allowance (uploaded on sync)."""
    row = await _mine(conn, allowance_id, device_id)
    body = {"allowance_id": allowance_id, "amount": request.amount, "reference": request.reference}
    done = await begin_movement(
        conn,
        request.spend_id,
        "allowance_spend",
        body,
        store_id=row["store_id"],
        member_id=row["member_id"],
        reference=request.reference,
        reason=f"offline spend of {KIND_WORDS[row['kind']]}",
    )
    if done is not None:
        return _view(row)
    if row["state"] != "open":
        raise Conflict(
            "This allowance was already returned; the spend cannot be taken from it.", MemberCodes.HOLD_CLOSED
        )
    left = int(row["amount"]) - int(row["captured"])
    if request.amount > left:
        raise Conflict(
            f"Only {left} is left of this allowance; the till spent more than it was granted.",
            MemberCodes.CAPTURE_EXCEEDS_HOLD,
            left=left,
        )
    await take_from_hold(conn, row, request.spend_id, request.amount, request.reference)
    await conn.execute("UPDATE ledger_hold SET captured = captured + $2 WHERE id = $1", allowance_id, request.amount)
    row = await _mine(conn, allowance_id, device_id)
    await finish_movement(conn, request.spend_id, {"allowance_id": str(allowance_id), "spent": request.amount})
    return _view(row)


@atomic
async def give_back(conn: asyncpg.Connection, *, allowance_id: uuid.UUID, device_id: uuid.UUID) -> Allowance:
    """Return the unused part to the member. Repeating it is harmless."""
    row = await _mine(conn, allowance_id, device_id)
    if row["state"] == "open":
        await close_hold(conn, row, int(row["captured"]), derived_id(allowance_id, "release"))
        row = await _mine(conn, allowance_id, device_id)
    return _view(row)
