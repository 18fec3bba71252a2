"""Members are people: enrol, look up by phone/card/code, update, add cards, merge duplicates.

The national ID number is never stored: only a keyed hash (to find a member by it) and a masked
form (the only thing ever shown). Phone numbers leave the server masked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

import asyncpg

from protocol.errors import Codes
from protocol.ids import new_id
from protocol.members import Member, MemberCard, MemberCodes, MemberNew, MemberUpdate, MergeRequest
from server.audit import record
from server.errors import AppError, Conflict, NotFound
from server.ledger import repository as ledger_sql
from server.ledger.posting import (
    atomic,
    begin_movement,
    finish_movement,
    member_account_exact,
    member_for_store,
    post,
)
from server.loyalty.service import recompute_tier
from server.members import repository as sql

_ID_18 = re.compile(r"^[0-9]{17}[0-9X]$")
_ID_15 = re.compile(r"^[0-9]{15}$")


def national_id_key(secret: str) -> bytes:
    """The key that hashes national ID numbers, derived from the server secret (keep it stable)."""
    return hmac.new(secret.encode(), b"floorticket member national id", hashlib.sha256).digest()


def _normalise_id(raw: str) -> str:
    value = raw.strip().upper().replace(" ", "")
    if not (_ID_18.match(value) or _ID_15.match(value)):
        raise AppError(
            MemberCodes.INVALID_NATIONAL_ID,
            "The ID number should be 18 characters (17 digits and a digit or X) or 15 digits; check it.",
            details={"field": "national_id"},
        )
    return value


def protect_id(raw: str, key: bytes) -> tuple[bytes, str]:
    """(keyed hash, masked form) of a national ID number."""
    value = _normalise_id(raw)
    return hmac.new(key, value.encode(), hashlib.sha256).digest(), mask_id(value)


def mask_id(value: str) -> str:
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(phone: str) -> str:
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


async def _view(conn: asyncpg.Connection, row: asyncpg.Record) -> Member:
    cards = [
        MemberCard(number=c["number"], kind=c["kind"], active=c["active"])
        for c in await conn.fetch(sql.CARDS_OF, row["id"])
    ]
    return Member(
        id=row["id"],
        name=row["name"],
        phone_masked=mask_phone(row["phone"]),
        national_id_masked=row["national_id_masked"],
        birthday=row["birthday"],
        home_store_id=row["home_store_id"],
        consent_marketing=row["consent_marketing"],
        consent_sms=row["consent_sms"],
        tier=row["tier_code"],
        state=row["state"],
        merged_into=row["merged_into"],
        cards=cards,
    )


async def _add_card(conn: asyncpg.Connection, member_id: uuid.UUID, number: str, kind: str) -> None:
    if await conn.fetchval(sql.INSERT_CARD, number, member_id, kind) is None:
        raise Conflict(
            "That card or code already belongs to a member; look the member up by it.",
            MemberCodes.CARD_TAKEN,
            field="number",
        )


@atomic
async def enrol(
    conn: asyncpg.Connection,
    *,
    store_id: uuid.UUID,
    new: MemberNew,
    id_key: bytes,
    staff_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
) -> Member:
    """Enrol a person at ``store_id`` (their home store). The phone must be new to the chain."""
    id_hash, id_masked = protect_id(new.national_id, id_key) if new.national_id else (None, None)
    member_id = member_id or new_id()
    created = await conn.fetchval(
        sql.INSERT_MEMBER,
        member_id,
        store_id,
        new.name,
        new.phone,
        id_hash,
        id_masked,
        new.birthday,
        new.consent_marketing,
        new.consent_sms,
    )
    if created is None:
        raise Conflict(
            "A member with this phone number already exists; look them up by phone.",
            MemberCodes.PHONE_TAKEN,
            field="phone",
        )
    await conn.execute(sql.LINK_STORE, member_id, store_id)
    for number in new.cards:
        await _add_card(conn, member_id, number, "card")
    if staff_id is not None:  # a person enrolled them (the demo seed is not audited)
        await record(
            conn,
            device_id=None,
            store_id=store_id,
            staff_id=staff_id,
            action="member.enrolled",
            object_type="member",
            object_id=member_id,
        )
    return await get(conn, store_id, member_id)


async def get(
    conn: asyncpg.Connection, store_id: uuid.UUID, member_id: uuid.UUID, *, chain_wide: bool = False
) -> Member:
    """A member known at ``store_id``; another store's member answers NotFound. A merged record is
    returned as it is (``state`` merged, ``merged_into`` the survivor)."""
    row = await conn.fetchrow(ledger_sql.MEMBER_ROW, member_id, store_id)
    if row is None or not (row["known_here"] or chain_wide):
        raise NotFound("member", member_id)
    found = await conn.fetchrow(sql.MEMBER_BY_ID, member_id)
    assert found is not None
    return await _view(conn, found)


@atomic
async def find_member(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    *,
    phone: str | None = None,
    card: str | None = None,
    code: str | None = None,
    national_id: str | None = None,
    id_key: bytes | None = None,
) -> Member:
    """Find the member a customer presents (phone, card number, member code or ID number) anywhere in
    the chain. Presenting it at ``store_id`` makes the member known there."""
    found: uuid.UUID | None = None
    if phone:
        found = await conn.fetchval(sql.BY_PHONE, phone.strip())
    elif card:
        found = await conn.fetchval(sql.BY_CARD, card.strip(), "card")
    elif code:
        found = await conn.fetchval(sql.BY_CARD, code.strip(), "code")
    elif national_id and id_key is not None:
        found = await conn.fetchval(sql.BY_NATIONAL_ID, protect_id(national_id, id_key)[0])
    else:
        raise AppError(Codes.BAD_REQUEST, "Give a phone number, card number or member code to look a member up.")
    if found is None:
        raise AppError(
            MemberCodes.MEMBER_NOT_FOUND, "No member matches; check the number or enrol the customer.", status=404
        )
    await conn.execute(sql.LINK_STORE, found, store_id)
    return await get(conn, store_id, found)


async def list_members(
    conn: asyncpg.Connection, store_id: uuid.UUID, *, after: uuid.UUID | None = None, limit: int = 50
) -> list[Member]:
    rows = await conn.fetch(sql.LIST_MEMBERS, store_id, after, max(1, min(limit, 200)))
    return [await _view(conn, r) for r in rows]


@atomic
async def update(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    member_id: uuid.UUID,
    change: MemberUpdate,
    *,
    id_key: bytes,
    staff_id: uuid.UUID | None = None,
    chain_wide: bool = False,
) -> Member:
    await get(conn, store_id, member_id, chain_wide=chain_wide)
    row = await conn.fetchrow(sql.MEMBER_FOR_UPDATE, member_id)
    assert row is not None
    if row["state"] != "active":
        raise Conflict(
            "This record was merged into another member; change that one instead.",
            MemberCodes.MEMBER_MERGED,
            merged_into=str(row["merged_into"]),
        )
    id_hash, id_masked = row["national_id_hash"], row["national_id_masked"]
    if change.national_id is not None:
        id_hash, id_masked = protect_id(change.national_id, id_key)
    try:
        await conn.execute(
            sql.UPDATE_MEMBER,
            member_id,
            change.name or row["name"],
            change.phone or row["phone"],
            id_hash,
            id_masked,
            change.birthday or row["birthday"],
            row["consent_marketing"] if change.consent_marketing is None else change.consent_marketing,
            row["consent_sms"] if change.consent_sms is None else change.consent_sms,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            "Another member already has this phone number.", MemberCodes.PHONE_TAKEN, field="phone"
        ) from None
    fields = sorted(f for f in change.__struct_fields__ if getattr(change, f) is not None)
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="member.updated",
        object_type="member",
        object_id=member_id,
        details={"fields": fields},
    )
    return await get(conn, store_id, member_id, chain_wide=chain_wide)


@atomic
async def add_card(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    member_id: uuid.UUID,
    number: str,
    kind: str = "card",
    *,
    chain_wide: bool = False,
) -> Member:
    member = await member_for_store(conn, store_id, member_id, chain_wide=chain_wide)
    await _add_card(conn, member, number, kind)
    return await get(conn, store_id, member, chain_wide=chain_wide)


@atomic
async def merge(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    request: MergeRequest,
    *,
    staff_id: uuid.UUID | None = None,
    chain_wide: bool = False,
) -> Member:
    """Fold ``absorbed`` into ``survivor``: balances move by a merge movement, every old entry stays on
    its account (the statement of the survivor shows them), cards and history follow (spend, earned
    purchases, and the sales facts and service tasks member reports read). Refused while
    the absorbed record has open holds. Repeating ``movement_id`` returns the survivor."""
    survivor_id, absorbed_id = request.survivor_id, request.absorbed_id
    if survivor_id == absorbed_id:
        raise AppError(MemberCodes.SAME_MEMBER, "Choose two different members to merge.")
    for mid in (survivor_id, absorbed_id):
        await get(conn, store_id, mid, chain_wide=chain_wide)
    body = {"survivor_id": survivor_id, "absorbed_id": absorbed_id}
    done = await begin_movement(
        conn,
        request.movement_id,
        "merge",
        body,
        store_id=store_id,
        member_id=survivor_id,
        reason="members merged",
        reference=f"member:{absorbed_id}",
        staff_id=staff_id,
    )
    if done is not None:
        return await get(conn, store_id, survivor_id, chain_wide=chain_wide)
    rows: dict[uuid.UUID, asyncpg.Record] = {}
    # a checkout of either member commits its sales facts before the history moves, or after the merge
    await conn.execute(sql.LOCK_MEMBERS_CHECKOUTS, [survivor_id, absorbed_id])
    for mid in sorted((survivor_id, absorbed_id), key=lambda u: u.bytes):  # lock in a fixed order
        locked = await conn.fetchrow(sql.MEMBER_FOR_UPDATE, mid)
        assert locked is not None
        rows[mid] = locked
    for mid, row in rows.items():
        if row["state"] != "active":
            raise Conflict(
                "One of these records was already merged; merge into its survivor instead.",
                MemberCodes.MEMBER_MERGED,
                member_id=str(mid),
                merged_into=str(row["merged_into"]),
            )
    if await conn.fetchval(ledger_sql.OPEN_HOLDS_OF, absorbed_id):
        raise Conflict(
            "This member has a payment in progress; finish or cancel it, then merge.", MemberCodes.OPEN_HOLDS
        )
    legs: list[tuple[uuid.UUID, int, bool]] = []
    for acc in await conn.fetch(sql.ACCOUNTS_TO_MOVE, absorbed_id):
        target = await member_account_exact(conn, survivor_id, acc["kind"], acc["store_id"], acc["format_id"])
        amount = int(acc["balance"])
        legs += [(acc["id"], -amount, True), (target, amount, True)]
        if acc["kind"] == "e_coin":
            for lot in await conn.fetch(ledger_sql.LOTS_OF_ACCOUNT, acc["id"]):
                await conn.execute(ledger_sql.TAKE_FROM_LOT, lot["id"], lot["remaining"])
                await conn.execute(
                    ledger_sql.INSERT_LOT,
                    new_id(),
                    target,
                    request.movement_id,
                    lot["campaign_id"],
                    lot["remaining"],
                    lot["expires_at"],
                    lot["store_ids"],
                    lot["categories"],
                )
    await post(conn, request.movement_id, legs)
    absorbed = rows[absorbed_id]
    await conn.execute(sql.MARK_MERGED, absorbed_id, survivor_id)
    await conn.execute(sql.MOVE_CARDS, absorbed_id, survivor_id)
    await conn.execute(sql.COPY_STORES, absorbed_id, survivor_id)
    await conn.execute(sql.MOVE_SPEND, absorbed_id, survivor_id)
    await conn.execute(sql.MOVE_EARNED, absorbed_id, survivor_id)
    for statement in sql.MOVE_SALES_HISTORY:
        await conn.execute(statement, absorbed_id, survivor_id)
    if absorbed["national_id_hash"] is not None:
        await conn.execute(
            sql.COPY_NATIONAL_ID, survivor_id, absorbed["national_id_hash"], absorbed["national_id_masked"]
        )
    await recompute_tier(conn, survivor_id)
    await finish_movement(conn, request.movement_id, {"survivor_id": str(survivor_id), "moved": len(legs) // 2})
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="member.merged",
        object_type="member",
        object_id=survivor_id,
        details={"absorbed_id": str(absorbed_id)},
    )
    return await get(conn, store_id, survivor_id, chain_wide=chain_wide)
