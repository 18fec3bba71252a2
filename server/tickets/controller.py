"""Staff-facing reads of tickets: the open tickets of the store, and one ticket by id."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from protocol.tickets import Ticket
from server.auth.guards import FLOOR, Caller
from server.errors import NotFound
from server.tickets import service

StateFilter = Literal["issued", "paid", "released", "voided", "expired", "partly_refunded", "refunded", "all"]


def _store(caller: NamedDependency[Caller], store_id: uuid.UUID | None) -> uuid.UUID:
    if store_id is None:
        return caller.store_id
    if not caller.may_see_store(store_id):
        raise NotFound("store", store_id)
    return store_id


class TicketController(Controller):
    path = "/tickets"
    tags = ["tickets"]  # noqa: RUF012 (Litestar reads these class attributes)
    opt = {"roles": FLOOR}  # noqa: RUF012

    @get("/", operation_id="listTickets")
    async def list_tickets(
        self,
        caller: NamedDependency[Caller],
        conn: NamedDependency[asyncpg.Connection],
        ticket_state: Annotated[StateFilter, QueryParameter(name="state", description="default: issued")] = "issued",
        member_id: FromQuery[uuid.UUID | None] = None,
        number: Annotated[str | None, QueryParameter(description="ticket number or its beginning")] = None,
        store_id: Annotated[uuid.UUID | None, QueryParameter(description="admins only: another store")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[Ticket]:
        """Tickets of the caller's store, newest first; open (issued) ones unless ``state`` says otherwise."""
        return await service.list_tickets(
            conn,
            _store(caller, store_id),
            state=None if ticket_state == "all" else ticket_state,
            member_id=member_id,
            number=number,
            limit=limit,
        )

    @get("/{ticket_id:uuid}", operation_id="getTicket")
    async def get_ticket(
        self, caller: NamedDependency[Caller], conn: NamedDependency[asyncpg.Connection], ticket_id: FromPath[uuid.UUID]
    ) -> Ticket:
        """One ticket of the caller's store (another store's ticket is not found)."""
        if caller.chain_wide:
            row = await conn.fetchval("SELECT store_id FROM ticket WHERE id = $1", ticket_id)
            if row is None:
                raise NotFound("ticket", ticket_id)
            return await service.get_ticket(conn, row, ticket_id)
        return await service.get_ticket(conn, caller.store_id, ticket_id)
