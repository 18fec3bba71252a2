"""Segments (evaluate, save, export) and service tasks: campaigns, outcomes, follow-ups, results."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any, Literal

import asyncpg
import msgspec

from protocol.ids import new_id
from protocol.marketing import (
    Campaign,
    CampaignNew,
    Segment,
    SegmentFilter,
    SegmentMember,
    SegmentNew,
    SegmentPreview,
    Task,
    TaskOutcome,
    TaskResultRow,
    TaskResults,
)
from protocol.reports import ReportCodes
from server.audit import record as audit
from server.auth.guards import MANAGERS, Caller
from server.errors import AppError, Conflict, NotFound
from server.marketing import repository as sql
from server.members.service import mask_phone
from server.reports import repository as reports_sql
from server.reports import service as reports
from server.reports.scope import local_today, mask_name, per, share

DEFAULT_WINDOW_DAYS = 365
SAMPLE = 10
MAX_TASKS = 5000


def window(f: SegmentFilter, today: date | None = None) -> tuple[date, date]:
    end = f.window_to or today or date.today()
    start = f.window_from or end - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    if start > end:
        raise AppError(ReportCodes.BAD_PERIOD, "The window starts after it ends; swap window_from and window_to.")
    return start, end


async def _stores(conn: asyncpg.Connection, caller: Caller, store_id: uuid.UUID | None) -> tuple[list[uuid.UUID], bool]:
    """(stores, chain-wide): a manager's own store; an admin's chosen store or the chain."""
    if not caller.chain_wide:
        if store_id is not None and store_id != caller.store_id:
            raise NotFound("store", store_id)
        return [caller.store_id], False
    if store_id is not None:
        if await conn.fetchval("SELECT 1 FROM store WHERE id = $1", store_id) is None:
            raise NotFound("store", store_id)
        return [store_id], False
    return [r["id"] for r in await conn.fetch("SELECT id FROM store ORDER BY code")], True


async def _query(conn: asyncpg.Connection, caller: Caller, f: SegmentFilter) -> tuple[sql.SegmentQuery, date, date]:
    stores, chain = await _stores(conn, caller, f.store_id)
    await conn.execute(reports_sql.TUNE)
    start, end = window(f, await local_today(conn, caller.store_id))
    t = await reports.thresholds(conn, stores[0] if len(stores) == 1 else None)
    return sql.segment_query(f, stores, start, end, chain, t), start, end


def _member(row: asyncpg.Record, show_personal: bool) -> SegmentMember:
    return SegmentMember(
        member_id=row["member_id"],
        name=row["name"] if show_personal else mask_name(row["name"]),
        phone=row["phone"] if show_personal else mask_phone(row["phone"]),
        tier=row["tier"],
        spend=row["spend"],
        transactions=row["tx"],
        average_ticket=per(row["spend"], row["tx"]),
        last_day=row["last_day"],
        consent_marketing=row["consent_marketing"],
        consent_sms=row["consent_sms"],
    )


async def preview(conn: asyncpg.Connection, caller: Caller, f: SegmentFilter) -> SegmentPreview:
    """How many members the filter selects now, and the first few of them."""
    q, start, end = await _query(conn, caller, f)
    count = await conn.fetchval(q.sql("count(*)"), *q.args)
    rows = await conn.fetch(q.sql(sql.MEMBER_COLUMNS, f"{sql.MEMBER_ORDER} LIMIT {SAMPLE}"), *q.args)
    return SegmentPreview(
        members=count, window_from=start, window_to=end, sample=[_member(r, caller.chain_wide) for r in rows]
    )


async def members(
    conn: asyncpg.Connection, caller: Caller, segment_id: uuid.UUID, *, limit: int, offset: int
) -> list[SegmentMember]:
    """The segment's members, biggest spenders first (masked unless the caller is an administrator)."""
    seg = await get(conn, caller, segment_id)
    q, _, _ = await _query(conn, caller, seg.filter)
    tail = f"{sql.MEMBER_ORDER} LIMIT {q.param(limit)} OFFSET {q.param(offset)}"
    rows = await conn.fetch(q.sql(sql.MEMBER_COLUMNS, tail), *q.args)
    return [_member(r, caller.chain_wide) for r in rows]


def _segment(row: asyncpg.Record) -> Segment:
    return Segment(
        id=row["id"],
        store_id=row["store_id"],
        name=row["name"],
        filter=msgspec.json.decode(row["filter"], type=SegmentFilter),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _owner(caller: Caller, f: SegmentFilter) -> uuid.UUID | None:
    return f.store_id if caller.chain_wide else caller.store_id


async def create(conn: asyncpg.Connection, caller: Caller, new: SegmentNew) -> Segment:
    await _query(conn, caller, new.filter)  # refuses another store or a bad window before saving
    f = msgspec.structs.replace(new.filter, store_id=_owner(caller, new.filter))
    row = await conn.fetchrow(
        sql.INSERT_SEGMENT, new_id(), f.store_id, new.name, msgspec.json.encode(f).decode(), caller.staff_id
    )
    assert row is not None
    return _segment(row)


async def update(conn: asyncpg.Connection, caller: Caller, segment_id: uuid.UUID, new: SegmentNew) -> Segment:
    await get(conn, caller, segment_id)
    await _query(conn, caller, new.filter)
    f = msgspec.structs.replace(new.filter, store_id=_owner(caller, new.filter))
    row = await conn.fetchrow(sql.UPDATE_SEGMENT, segment_id, new.name, msgspec.json.encode(f).decode())
    assert row is not None
    return _segment(row)


async def get(conn: asyncpg.Connection, caller: Caller, segment_id: uuid.UUID) -> Segment:
    row = await conn.fetchrow(sql.GET_SEGMENT, segment_id)
    if row is None or not (caller.chain_wide or row["store_id"] == caller.store_id):
        raise NotFound("segment", segment_id)
    return _segment(row)


async def list_segments(conn: asyncpg.Connection, caller: Caller) -> list[Segment]:
    return [_segment(r) for r in await conn.fetch(sql.LIST_SEGMENTS, caller.chain_wide, caller.store_id)]


# --- service tasks ----------------------------------------------------------------------------------


async def create_campaign(conn: asyncpg.Connection, caller: Caller, new: CampaignNew) -> Campaign:
    """One task per consenting member of the segment, dealt round-robin to the staff (one transaction)."""
    seg = await get(conn, caller, new.segment_id)
    store = seg.store_id or new.store_id or caller.store_id
    if not caller.may_see_store(store):
        raise NotFound("store", store)
    staff = [r["id"] for r in await conn.fetch(sql.STAFF_OF_STORE, new.staff_ids, store)]
    missing = set(new.staff_ids) - set(staff)
    if missing:
        raise NotFound("staff", sorted(missing)[0])
    if not staff:
        raise AppError(ReportCodes.NO_STAFF, "Choose at least one staff member of the store to do the tasks.")
    staff = list(dict.fromkeys(new.staff_ids))  # the order the manager chose
    q, _, _ = await _query(
        conn, caller, msgspec.structs.replace(seg.filter, store_id=store if caller.chain_wide else None)
    )
    rows = await conn.fetch(q.sql(sql.MEMBER_COLUMNS, sql.MEMBER_ORDER), *q.args)
    consent = "consent_sms" if new.kind == "message" else "consent_marketing"
    chosen = [r["member_id"] for r in rows if r[consent]]
    if not chosen:
        raise AppError(
            ReportCodes.SEGMENT_EMPTY,
            "No member of this segment agreed to be contacted this way; widen the segment or choose another kind.",
            details={"members": len(rows)},
        )
    if len(chosen) > MAX_TASKS:
        raise AppError(
            ReportCodes.SEGMENT_TOO_LARGE,
            f"This segment would make {len(chosen)} tasks; narrow it to at most {MAX_TASKS} members.",
            details={"members": len(chosen)},
        )
    campaign_id = new_id()
    created = await conn.fetchval(
        sql.INSERT_CAMPAIGN, campaign_id, store, seg.id, new.name, new.kind, new.due_date,
        msgspec.json.encode(seg.filter).decode(), caller.staff_id, len(rows) - len(chosen),
    )  # fmt: skip
    await conn.execute(
        sql.INSERT_TASKS,
        [new_id() for _ in chosen],
        campaign_id,
        store,
        new.kind,
        new.due_date,
        chosen,
        [staff[i % len(staff)] for i in range(len(chosen))],
    )
    await audit(
        conn, store_id=store, staff_id=caller.staff_id, device_id=caller.device_id, action="marketing.campaign_created",
        object_type="service_campaign", object_id=str(campaign_id), details={"tasks": len(chosen)},
    )  # fmt: skip
    return Campaign(
        id=campaign_id, store_id=store, segment_id=seg.id, name=new.name, kind=new.kind, due_date=new.due_date,
        tasks=len(chosen), skipped_without_consent=len(rows) - len(chosen), created_at=created,
    )  # fmt: skip


async def campaigns(conn: asyncpg.Connection, caller: Caller) -> list[Campaign]:
    return [
        Campaign(
            id=r["id"],
            store_id=r["store_id"],
            segment_id=r["segment_id"],
            name=r["name"],
            kind=r["kind"],
            due_date=r["due_date"],
            tasks=r["tasks"],
            skipped_without_consent=r["skipped_without_consent"],
            created_at=r["created_at"],
        )
        for r in await conn.fetch(sql.LIST_CAMPAIGNS, caller.chain_wide, caller.store_id)
    ]


def _task(row: asyncpg.Record, show_phone: bool) -> Task:
    return Task(
        id=row["id"], campaign_id=row["campaign_id"], campaign=row["campaign"], member_id=row["member_id"],
        member_name=row["member_name"], phone=row["phone"] if show_phone else mask_phone(row["phone"]),
        staff_id=row["staff_id"], kind=row["kind"], due_date=row["due_date"], state=row["state"],
        outcome=row["outcome"], note=row["note"], follow_up_of=row["follow_up_of"], done_at=row["done_at"],
    )  # fmt: skip


async def my_tasks(conn: asyncpg.Connection, caller: Caller, states: list[str]) -> list[Task]:
    """The caller's own tasks, open ones first by due date; the phone is whole: they must reach the member."""
    return [_task(r, True) for r in await conn.fetch(sql.MY_TASKS, caller.staff_id, states)]


async def campaign_tasks(conn: asyncpg.Connection, caller: Caller, campaign_id: uuid.UUID) -> list[Task]:
    store = await conn.fetchval(sql.CAMPAIGN_STORE, campaign_id)
    if store is None or not caller.may_see_store(store):
        raise NotFound("campaign", campaign_id)
    return [_task(r, caller.chain_wide) for r in await conn.fetch(sql.CAMPAIGN_TASKS, campaign_id)]


async def record_outcome(conn: asyncpg.Connection, caller: Caller, task_id: uuid.UUID, data: TaskOutcome) -> Task:
    """Close an open task with its outcome (the assignee, or a manager of the store), and schedule the
    follow-up if one is asked for. In the caller's transaction."""
    row = await conn.fetchrow(sql.LOCK_TASK, task_id)
    if row is None or not caller.may_see_store(row["store_id"]):
        raise NotFound("task", task_id)
    if row["staff_id"] != caller.staff_id and caller.role not in MANAGERS:
        raise AppError(
            ReportCodes.NOT_YOUR_TASK,
            "This task is assigned to someone else; only they or a manager can record it.",
            status=403,
        )
    if row["state"] != "open":
        raise Conflict("This task already has its outcome; record a follow-up instead.", code=ReportCodes.TASK_CLOSED)
    await conn.execute(sql.CLOSE_TASK, task_id, data.outcome, data.note, caller.staff_id)
    if data.follow_up is not None:
        fu = data.follow_up
        staff = fu.staff_id or row["staff_id"]
        if staff != row["staff_id"] and not await conn.fetch(sql.STAFF_OF_STORE, [staff], row["store_id"]):
            raise NotFound("staff", staff)
        await conn.execute(
            sql.INSERT_FOLLOW_UP, new_id(), row["campaign_id"], row["store_id"], row["member_id"], staff,
            fu.kind or row["kind"], fu.due_date, task_id,
        )  # fmt: skip
    done = await conn.fetchrow(sql.GET_TASK, task_id)
    assert done is not None
    return _task(done, row["staff_id"] == caller.staff_id or caller.chain_wide)


async def results(
    conn: asyncpg.Connection,
    caller: Caller,
    by: Literal["staff", "campaign"],
    campaign_id: uuid.UUID | None,
    as_of: date | None = None,
) -> TaskResults:
    """Completion and results per staff member or per campaign."""
    if campaign_id is not None:
        store = await conn.fetchval(sql.CAMPAIGN_STORE, campaign_id)
        if store is None or not caller.may_see_store(store):
            raise NotFound("campaign", campaign_id)
    stores, _ = await _stores(conn, caller, None)
    day = as_of or await local_today(conn, caller.store_id)
    query = sql.RESULTS_BY_STAFF if by == "staff" else sql.RESULTS_BY_CAMPAIGN
    rows = []
    for r in await conn.fetch(query, stores, day, campaign_id):
        d: dict[str, Any] = dict(r)
        rows.append(TaskResultRow(completion=share(d["done"], d["tasks"]), **d))
    return TaskResults(by=by, as_of=day, rows=rows)
