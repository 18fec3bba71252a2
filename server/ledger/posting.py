"""The ledger's core: movements with their own ids, double-entry postings, account resolution.

A movement is one request. Its row is inserted first (``ON CONFLICT DO NOTHING``), so a repeat of
the same id, even concurrent, waits for the first and then gets its stored result; the same id with
different content is refused naming the field. Every movement's entries sum to zero per kind: a
member account on one side, a system account (per store, per kind) or another member account on the
other. Member balances are a cached column updated with the entries in the same transaction and
never negative; system balances are computed from entries only, so no hot row serialises a store.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

import asyncpg
import msgspec

from protocol.errors import Codes
from protocol.ids import new_id
from protocol.members import MemberCodes
from server.errors import AppError, Conflict, NotFound
from server.ledger import repository as sql

P = ParamSpec("P")
R = TypeVar("R")

KINDS = ("points", "e_coin", "stored_value")
KIND_WORDS = {"points": "points", "e_coin": "e-coin", "stored_value": "stored value"}
_NS = uuid.UUID("6f0b1f3e-9a53-4c8e-8d0f-7b3a52c1e001")


def derived_id(parent: uuid.UUID, label: str) -> uuid.UUID:
    """A stable id for a movement that follows from another (a hold's capture, a purchase's bonus)."""
    return uuid.uuid5(_NS, f"{parent}:{label}")


def atomic(
    fn: Callable[Concatenate[asyncpg.Connection, P], Awaitable[R]],
) -> Callable[Concatenate[asyncpg.Connection, P], Awaitable[R]]:
    """Run a ledger operation in its own savepoint inside the caller's transaction: if it is refused
    (say insufficient_balance) and the caller catches that and carries on, nothing of it remains."""

    @functools.wraps(fn)
    async def wrapper(conn: asyncpg.Connection, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with conn.transaction():
            return await fn(conn, *args, **kwargs)

    return wrapper


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID | datetime | date):
        return str(value)
    if isinstance(value, msgspec.Struct):
        return _plain(msgspec.to_builtins(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, ensure_ascii=False)


def _first_difference(old: Any, new: Any, path: str = "") -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            found = _first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if old == new else (path or "request")


async def begin_movement(
    conn: asyncpg.Connection,
    movement_id: uuid.UUID,
    kind: str,
    request: Mapping[str, Any],
    *,
    store_id: uuid.UUID | None,
    member_id: uuid.UUID | None,
    reason: str = "",
    reference: str = "",
    campaign_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
) -> Any | None:
    """Claim ``movement_id``. Returns None when this call does the work, else the first call's result
    (after checking the request is the same one)."""
    body = _plain(dict(request) | {"kind": kind, "store_id": store_id})
    claimed = await conn.fetchval(
        sql.INSERT_MOVEMENT,
        movement_id,
        kind,
        store_id,
        member_id,
        reason,
        reference,
        campaign_id,
        to_json(body),
        staff_id,
    )
    if claimed is not None:
        return None
    row = await conn.fetchrow(sql.MOVEMENT_BY_ID, movement_id)
    assert row is not None
    field = _first_difference(json.loads(row["request"]), body)
    if field is not None:
        raise Conflict(
            f"Movement {movement_id} was already used for a different request ({field} differs); "
            "make a new id for a new movement.",
            code=MemberCodes.MOVEMENT_ID_REUSED,
            field=field,
            movement_id=str(movement_id),
        )
    return json.loads(row["result"])


async def finish_movement(conn: asyncpg.Connection, movement_id: uuid.UUID, result: Any) -> None:
    await conn.execute(sql.SET_RESULT, movement_id, to_json(result))


async def member_for_store(
    conn: asyncpg.Connection, store_id: uuid.UUID, member_id: uuid.UUID, *, chain_wide: bool = False
) -> uuid.UUID:
    """The member's current id (following merges) if the member is known at ``store_id``, else NotFound."""
    seen = 0
    current = member_id
    while True:
        row = await conn.fetchrow(sql.MEMBER_ROW, current, store_id)
        if row is None or (seen == 0 and not row["known_here"] and not chain_wide):
            raise NotFound("member", member_id)
        if row["state"] != "merged":
            return uuid.UUID(str(row["id"]))
        current = row["merged_into"]
        seen += 1
        if seen > 20:  # merges form a tree; a longer chain means corrupted data
            raise AppError(Codes.INTERNAL, "This member's merge history is inconsistent; tell an administrator.")


async def scope_key(
    conn: asyncpg.Connection, kind: str, store_id: uuid.UUID
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    scope = await conn.fetchval(sql.SCOPE_OF, kind)
    if scope == "store":
        return store_id, None
    if scope == "format":
        return None, await conn.fetchval(sql.STORE_FORMAT, store_id)
    return None, None


async def member_account(
    conn: asyncpg.Connection, member_id: uuid.UUID, kind: str, store_id: uuid.UUID, *, held: bool = False
) -> uuid.UUID:
    """The member's account of ``kind`` that applies at ``store_id`` (split as ``account_scope`` says)."""
    scope_store, scope_format = await scope_key(conn, kind, store_id)
    return await member_account_exact(conn, member_id, kind, scope_store, scope_format, held=held)


async def member_account_exact(
    conn: asyncpg.Connection,
    member_id: uuid.UUID,
    kind: str,
    store_id: uuid.UUID | None,
    format_id: uuid.UUID | None,
    *,
    held: bool = False,
) -> uuid.UUID:
    args = (member_id, kind, held, store_id, format_id)
    found = await conn.fetchval(sql.MEMBER_ACCOUNT, *args)
    if found is None:
        await conn.execute(sql.ENSURE_MEMBER_ACCOUNT, new_id(), *args)
        found = await conn.fetchval(sql.MEMBER_ACCOUNT, *args)
    return uuid.UUID(str(found))


async def system_account(conn: asyncpg.Connection, code: str, kind: str, store_id: uuid.UUID | None) -> uuid.UUID:
    """A counterparty account such as ``points_issued`` or ``top_up_cash`` of one store and kind."""
    found = await conn.fetchval(sql.SYSTEM_ACCOUNT, kind, store_id, code)
    if found is None:
        await conn.execute(sql.ENSURE_SYSTEM_ACCOUNT, new_id(), kind, store_id, code)
        found = await conn.fetchval(sql.SYSTEM_ACCOUNT, kind, store_id, code)
    return uuid.UUID(str(found))


def insufficient(kind: str, wanted: int, **details: Any) -> AppError:
    return AppError(
        MemberCodes.INSUFFICIENT_BALANCE,
        f"The member's {KIND_WORDS.get(kind, kind)} balance is not enough for {wanted}; "
        "take a smaller amount or another tender.",
        status=409,
        details={"account": kind, "wanted": wanted} | details,
    )


async def post(
    conn: asyncpg.Connection,
    movement_id: uuid.UUID,
    legs: Sequence[tuple[uuid.UUID, int, bool]],
) -> None:
    """Write one movement's entries. ``legs`` are (account, signed amount, is_member_account); zero legs
    are skipped. Member accounts are updated in id order (no deadlocks) and refuse to go below zero."""
    legs = [leg for leg in legs if leg[1] != 0]
    if not legs:
        return
    for account_id, amount, is_member in sorted(legs, key=lambda leg: leg[0].bytes):
        if not is_member:
            continue
        balance = await conn.fetchval(sql.APPLY_TO_MEMBER_ACCOUNT, account_id, amount)
        if balance is None:
            row = await conn.fetchrow(sql.ACCOUNT_KIND, account_id)
            raise insufficient(str(row["kind"]) if row else "", -amount)
    await conn.execute(
        sql.INSERT_ENTRIES,
        movement_id,
        [leg[0] for leg in legs],
        [leg[1] for leg in legs],
    )
