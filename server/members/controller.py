"""``/api/members``: enrol, look up, update, cards, merge, balances, statement, top-up, 补积分."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from protocol.members import (
    AttachPurchase,
    Balances,
    CardNew,
    EarningResult,
    Member,
    MemberLookup,
    MemberNew,
    MemberUpdate,
    MergeRequest,
    StatementPage,
    TopUp,
    TopUpResult,
)
from server.auth.guards import FLOOR, MANAGERS, SUPERVISORS, TILL
from server.deps import CallerDep, Conn
from server.ledger import service as ledger
from server.loyalty import service as loyalty
from server.members import service


def _key(request: Request[Any, Any, Any]) -> bytes:
    return service.national_id_key(request.app.state.settings.secret_key)


class MembersController(Controller):
    path = "/api/members"
    tags = ("members",)

    @post("/", operation_id="enrol_member", opt={"roles": TILL})
    async def enrol(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        caller: CallerDep,
        data: JSONBody[MemberNew],
    ) -> Member:
        async with conn.transaction():
            return await service.enrol(
                conn, store_id=caller.store_id, new=data, id_key=_key(request), staff_id=caller.staff_id
            )

    @get("/", operation_id="list_members", opt={"roles": SUPERVISORS})
    async def list_members(
        self,
        conn: Conn,
        caller: CallerDep,
        after: FromQuery[uuid.UUID | None] = None,
        limit: FromQuery[int] = 50,
    ) -> list[Member]:
        return await service.list_members(conn, caller.store_id, after=after, limit=limit)

    @post("/lookup", operation_id="find_member", opt={"roles": FLOOR}, status_code=200)
    async def lookup(self, conn: Conn, caller: CallerDep, data: JSONBody[MemberLookup]) -> Member:
        return await service.find_member(conn, caller.store_id, phone=data.phone, card=data.card, code=data.code)

    @get("/{member_id:uuid}", operation_id="get_member", opt={"roles": FLOOR})
    async def get_member(self, conn: Conn, caller: CallerDep, member_id: FromPath[uuid.UUID]) -> Member:
        return await service.get(conn, caller.store_id, member_id, chain_wide=caller.chain_wide)

    @patch("/{member_id:uuid}", operation_id="update_member", opt={"roles": TILL})
    async def update(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        caller: CallerDep,
        member_id: FromPath[uuid.UUID],
        data: JSONBody[MemberUpdate],
    ) -> Member:
        async with conn.transaction():
            return await service.update(
                conn, caller.store_id, member_id, data, id_key=_key(request), staff_id=caller.staff_id,
                chain_wide=caller.chain_wide,
            )  # fmt: skip

    @post("/{member_id:uuid}/cards", operation_id="add_member_card", opt={"roles": TILL})
    async def add_card(
        self,
        conn: Conn,
        caller: CallerDep,
        member_id: FromPath[uuid.UUID],
        data: JSONBody[CardNew],
    ) -> Member:
        async with conn.transaction():
            return await service.add_card(
                conn, caller.store_id, member_id, data.number, data.kind, chain_wide=caller.chain_wide
            )

    @post("/merge", operation_id="merge_members", opt={"roles": MANAGERS})
    async def merge(self, conn: Conn, caller: CallerDep, data: JSONBody[MergeRequest]) -> Member:
        async with conn.transaction():
            return await service.merge(
                conn, caller.store_id, data, staff_id=caller.staff_id, chain_wide=caller.chain_wide
            )

    @get("/{member_id:uuid}/balances", operation_id="member_balances", opt={"roles": FLOOR})
    async def balances(self, conn: Conn, caller: CallerDep, member_id: FromPath[uuid.UUID]) -> Balances:
        async with conn.transaction():
            return await ledger.balances(conn, member_id, caller.store_id, chain_wide=caller.chain_wide)

    @get("/{member_id:uuid}/statement", operation_id="member_statement", opt={"roles": TILL})
    async def statement(
        self, conn: Conn, caller: CallerDep, member_id: FromPath[uuid.UUID], cursor: FromQuery[int | None] = None,
        limit: FromQuery[int] = 50,
    ) -> StatementPage:  # fmt: skip
        return await ledger.statement(
            conn, member_id, caller.store_id, cursor=cursor, limit=limit, chain_wide=caller.chain_wide
        )

    @post("/{member_id:uuid}/top-ups", operation_id="top_up_member", opt={"roles": TILL})
    async def top_up(
        self,
        conn: Conn,
        caller: CallerDep,
        member_id: FromPath[uuid.UUID],
        data: JSONBody[TopUp],
    ) -> TopUpResult:
        async with conn.transaction():
            return await ledger.top_up(
                conn, movement_id=data.movement_id, store_id=caller.store_id, member_id=member_id,
                amount=data.amount, till_id=data.till_id or caller.device_id, shift_id=data.shift_id,
                staff_id=caller.staff_id,
            )  # fmt: skip

    @post("/{member_id:uuid}/attach-purchase", operation_id="attach_purchase", opt={"roles": TILL})
    async def attach(
        self,
        conn: Conn,
        caller: CallerDep,
        member_id: FromPath[uuid.UUID],
        data: JSONBody[AttachPurchase],
    ) -> EarningResult:
        async with conn.transaction():
            return await loyalty.attach_purchase(
                conn, movement_id=data.movement_id, store_id=caller.store_id, member_id=member_id,
                receipt_no=data.receipt_no, amount=data.amount, lines=data.lines, purchased_at=data.purchased_at,
                staff_id=caller.staff_id,
            )  # fmt: skip
