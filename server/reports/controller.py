"""``/api/admin/reports``: every report as JSON, or as CSV with ``?format=csv`` (or ``Accept: text/csv``).

Common query parameters: ``from`` and ``to`` (business days, inclusive; default the last 30 days),
``store_id`` (admins; managers see their own store only), ``format_id`` (a business format).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal, TypeAlias

from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from protocol.reports import (
    CategoryReport,
    CategoryRow,
    CommissionChange,
    ConcessionReport,
    ConcessionRow,
    ContributionReport,
    ContributionRow,
    FormatWeightChange,
    PotentialReport,
    PotentialRow,
    PromotionCategoryReport,
    PromotionCategoryRow,
    PromotionMemberReport,
    PromotionMemberRow,
    RfmReport,
    RfmRow,
    RfmSegmentReport,
    RfmSegmentRow,
    SalesStructureReport,
    StateCount,
    StateReport,
    StateRow,
    StateSummaryReport,
    StateThresholds,
    StructureRow,
)
from server.auth.guards import MANAGERS
from server.deps import CallerDep, Conn
from server.errors import NotFound
from server.openapi import CSV
from server.reports import repository as sql
from server.reports import service
from server.reports.csv import respond
from server.reports.scope import Resolved, resolve

Fmt = Annotated[str | None, QueryParameter(name="format", pattern="^(json|csv)$", required=False)]
Limit = Annotated[int, QueryParameter(ge=1, le=100_000)]
Offset = Annotated[int, QueryParameter(ge=0)]
Req = Request[Any, Any, Any]
REPORT: dict[str, Any] = {"roles": MANAGERS, CSV: True}  # managers; JSON or CSV (see server.openapi)
ScopeDep: TypeAlias = NamedDependency[Resolved]


def _doc(report: type[Any]) -> dict[int, ResponseSpec]:
    """The JSON body in the API document (handlers answer bytes so the same route can serve CSV)."""
    return {
        200: ResponseSpec(
            data_container=report,
            generate_examples=False,
            description="The report as JSON; with ?format=csv or Accept: text/csv, its rows as CSV (text/csv).",
        )
    }


async def provide_scope(
    conn: Conn,
    caller: CallerDep,
    store_id: FromQuery[uuid.UUID | None] = None,
    format_id: FromQuery[uuid.UUID | None] = None,
    period_from: Annotated[date | None, QueryParameter(name="from", required=False)] = None,
    period_to: Annotated[date | None, QueryParameter(name="to", required=False)] = None,
) -> Resolved:
    return await resolve(
        conn, caller, store_id=store_id, format_id=format_id, period_from=period_from, period_to=period_to
    )


class ReportsController(Controller):
    path = "/api/admin/reports"
    tags = ("reports",)
    dependencies = {"report_scope": Provide(provide_scope)}  # noqa: RUF012

    @get("/categories", operation_id="report_categories", opt=REPORT, responses=_doc(CategoryReport))
    async def categories(
        self,
        request: Req,
        conn: Conn,
        report_scope: ScopeDep,
        dimension: FromQuery[Literal["category", "brand"]] = "category",
        fmt: Fmt = None,
    ) -> Response[bytes]:
        report = await service.categories(conn, report_scope, dimension)
        return respond(request, fmt, report, CategoryRow, f"{dimension}-analysis")

    @get(
        "/promotion/categories",
        operation_id="report_promotion_categories",
        opt=REPORT,
        responses=_doc(PromotionCategoryReport),
    )
    async def promotion_categories(
        self, request: Req, conn: Conn, report_scope: ScopeDep, fmt: Fmt = None
    ) -> Response[bytes]:
        report = await service.promotion_categories(conn, report_scope)
        return respond(request, fmt, report, PromotionCategoryRow, "promotion-categories")

    @get(
        "/promotion/members",
        operation_id="report_promotion_members",
        opt=REPORT,
        responses=_doc(PromotionMemberReport),
    )
    async def promotion_members(
        self,
        request: Req,
        conn: Conn,
        report_scope: ScopeDep,
        min_sales: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Limit = 100,
        offset: Offset = 0,
        fmt: Fmt = None,
    ) -> Response[bytes]:
        report = await service.promotion_members(conn, report_scope, min_sales=min_sales, limit=limit, offset=offset)
        return respond(request, fmt, report, PromotionMemberRow, "promotion-members")

    @get(
        "/sales-structure",
        operation_id="report_sales_structure",
        opt=REPORT,
        responses=_doc(SalesStructureReport),
    )
    async def sales_structure(
        self, request: Req, conn: Conn, report_scope: ScopeDep, fmt: Fmt = None
    ) -> Response[bytes]:
        report = await service.sales_structure(conn, report_scope)
        return respond(request, fmt, report, StructureRow, "sales-structure")

    @get(
        "/member-contribution",
        operation_id="report_member_contribution",
        opt=REPORT,
        responses=_doc(ContributionReport),
    )
    async def contribution(
        self,
        request: Req,
        conn: Conn,
        report_scope: ScopeDep,
        split: FromQuery[Literal["member", "format"]] = "member",
        limit: Limit = 100,
        offset: Offset = 0,
        fmt: Fmt = None,
    ) -> Response[bytes]:
        report = await service.contribution(conn, report_scope, split=split, limit=limit, offset=offset)
        return respond(request, fmt, report, ContributionRow, "member-contribution")

    @get(
        "/member-potential",
        operation_id="report_member_potential",
        opt=REPORT,
        responses=_doc(PotentialReport),
    )
    async def potential(
        self,
        request: Req,
        conn: Conn,
        report_scope: ScopeDep,
        buckets: Annotated[int, QueryParameter(ge=2, le=24)] = 3,
        flagged_only: FromQuery[bool] = False,
        limit: Limit = 100,
        offset: Offset = 0,
        fmt: Fmt = None,
    ) -> Response[bytes]:
        report = await service.potential(
            conn, report_scope, buckets=buckets, flagged_only=flagged_only, limit=limit, offset=offset
        )
        return respond(request, fmt, report, PotentialRow, "member-potential")

    @get("/rfm", operation_id="report_rfm", opt=REPORT, responses=_doc(RfmReport))
    async def rfm(
        self,
        request: Req,
        conn: Conn,
        report_scope: ScopeDep,
        segments: Annotated[list[str] | None, QueryParameter(name="segment", required=False)] = None,
        limit: Limit = 100,
        offset: Offset = 0,
        fmt: Fmt = None,
    ) -> Response[bytes]:
        report = await service.rfm(conn, report_scope, segments=segments or [], limit=limit, offset=offset)
        return respond(request, fmt, report, RfmRow, "rfm")

    @get("/rfm/segments", operation_id="report_rfm_segments", opt=REPORT, responses=_doc(RfmSegmentReport))
    async def rfm_segments(self, request: Req, conn: Conn, report_scope: ScopeDep, fmt: Fmt = None) -> Response[bytes]:
        report = await service.rfm_segments(conn, report_scope)
        return respond(request, fmt, report, RfmSegmentRow, "rfm-segments")

    @get("/customer-states", operation_id="report_customer_states", opt=REPORT, responses=_doc(StateReport))
    async def states(
        self,
        request: Req,
        conn: Conn,
        report_scope: ScopeDep,
        states: Annotated[list[str] | None, QueryParameter(name="state", required=False)] = None,
        limit: Limit = 100,
        offset: Offset = 0,
        fmt: Fmt = None,
    ) -> Response[bytes]:
        report = await service.states(conn, report_scope, only=states or [], limit=limit, offset=offset)
        return respond(request, fmt, report, StateRow, "customer-states")

    @get(
        "/customer-states/summary",
        operation_id="report_customer_state_summary",
        opt=REPORT,
        responses=_doc(StateSummaryReport),
    )
    async def state_summary(self, request: Req, conn: Conn, report_scope: ScopeDep, fmt: Fmt = None) -> Response[bytes]:
        report = await service.state_summary(conn, report_scope)
        return respond(request, fmt, report, StateCount, "customer-state-summary")

    @get("/concessions", operation_id="report_concessions", opt=REPORT, responses=_doc(ConcessionReport))
    async def concessions(self, request: Req, conn: Conn, report_scope: ScopeDep, fmt: Fmt = None) -> Response[bytes]:
        report = await service.concessions(conn, report_scope)
        return respond(request, fmt, report, ConcessionRow, "concession-settlement")


class AnalyticsSettingsController(Controller):
    """Thresholds and weights the reports use: a manager's own store, an admin's any store."""

    path = "/api/admin/analytics"
    tags = ("reports",)

    @get("/state-thresholds", operation_id="get_state_thresholds", opt={"roles": MANAGERS})
    async def get_thresholds(
        self, conn: Conn, caller: CallerDep, store_id: FromQuery[uuid.UUID | None] = None
    ) -> StateThresholds:
        return await service.thresholds(conn, await _own_store(conn, caller, store_id))

    @put("/state-thresholds", operation_id="set_state_thresholds", opt={"roles": MANAGERS})
    async def set_thresholds(
        self,
        conn: Conn,
        caller: CallerDep,
        data: JSONBody[StateThresholds],
        store_id: FromQuery[uuid.UUID | None] = None,
    ) -> StateThresholds:
        async with conn.transaction():
            store = await _own_store(conn, caller, store_id)
            return await service.set_thresholds(conn, store, data, caller.staff_id)

    @put("/commissions/{counter_id:uuid}", operation_id="set_counter_commission", opt={"roles": MANAGERS})
    async def set_commission(
        self, conn: Conn, caller: CallerDep, counter_id: FromPath[uuid.UUID], data: JSONBody[CommissionChange]
    ) -> CommissionChange:
        store = await conn.fetchval(sql.COUNTER_STORE, counter_id)
        if store is None or not caller.may_see_store(store):
            raise NotFound("counter", counter_id)
        await conn.execute(sql.UPSERT_COMMISSION, counter_id, data.rate_bp)
        return data

    @put("/format-weights/{format_id:uuid}", operation_id="set_format_weight", opt={"roles": ("admin",)})
    async def set_weight(
        self, conn: Conn, format_id: FromPath[uuid.UUID], data: JSONBody[FormatWeightChange]
    ) -> FormatWeightChange:
        if await conn.fetchval(sql.FORMAT_EXISTS, format_id) is None:
            raise NotFound("business format", format_id)
        await conn.execute(sql.UPSERT_WEIGHT, format_id, data.weight)
        return data


async def _own_store(conn: Conn, caller: CallerDep, store_id: uuid.UUID | None) -> uuid.UUID:
    if store_id is None or store_id == caller.store_id:
        return caller.store_id
    if not caller.chain_wide or await conn.fetchval(sql.STORE_EXISTS, store_id) is None:
        raise NotFound("store", store_id)
    return store_id
