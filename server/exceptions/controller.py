"""``/exceptions``: the store's exception queue for supervisors and managers, and for a till with a
supervisor's approval."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from protocol.exceptions import ExceptionList, ExceptionQuery, ExceptionStatus, ResolveException, StoreException
from server.auth.guards import SUPERVISORS, TILL
from server.deps import CallerDep, Conn
from server.exceptions import service
from server.settings import Settings


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class ExceptionsController(Controller):
    path = "/exceptions"
    tags = ("exceptions",)

    @get("/", operation_id="listExceptions", opt={"roles": SUPERVISORS})
    async def list_exceptions(
        self,
        conn: Conn,
        caller: CallerDep,
        status: Annotated[ExceptionStatus | None, QueryParameter(description="open or resolved; all if absent")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000_000)] = 0,
    ) -> ExceptionList:
        """The store's exception queue, newest first, with the money movements that fix each one."""
        return await service.list_exceptions(conn, caller.store_id, status, limit, offset)

    @post("/queries", operation_id="queryExceptionsAtTill", status_code=200, opt={"roles": TILL})
    async def query(
        self, request: Request[Any, Any, Any], data: JSONBody[ExceptionQuery], conn: Conn, caller: CallerDep
    ) -> ExceptionList:
        """The queue as a till shows it: a cashier sends a supervisor's staff code and PIN in ``approval``."""
        return await service.till_queue(conn, caller, data, _settings(request))

    @get("/{exception_id:uuid}", operation_id="getException", opt={"roles": SUPERVISORS})
    async def get_one(self, exception_id: FromPath[uuid.UUID], conn: Conn, caller: CallerDep) -> StoreException:
        return await service.get_exception(conn, caller, exception_id)

    @post("/{exception_id:uuid}/resolve", operation_id="resolveException", status_code=200, opt={"roles": TILL})
    async def resolve(
        self,
        request: Request[Any, Any, Any],
        exception_id: FromPath[uuid.UUID],
        data: JSONBody[ResolveException],
        conn: Conn,
        caller: CallerDep,
    ) -> StoreException:
        """Mark the exception resolved with what was done. A cashier needs a supervisor's approval;
        resolving twice is refused with ``exception_already_resolved``."""
        return await service.resolve(conn, caller, exception_id, data, _settings(request))
