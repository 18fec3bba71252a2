"""``/api/admin/segments`` and ``/api/admin/campaigns`` for managers; ``/api/tasks`` for the staff who
serve the members."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from protocol.codec import encode
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
    TaskResults,
)
from server.auth.guards import FLOOR, MANAGERS
from server.deps import CallerDep, Conn
from server.marketing import service
from server.openapi import CSV
from server.reports.csv import CSV_TYPE, to_csv, wants_csv

Fmt = Annotated[str | None, QueryParameter(name="format", pattern="^(json|csv)$", required=False)]


class SegmentsController(Controller):
    path = "/api/admin/segments"
    tags = ("marketing",)

    @post("/preview", operation_id="preview_segment", opt={"roles": MANAGERS}, status_code=200)
    async def preview(self, conn: Conn, caller: CallerDep, data: JSONBody[SegmentFilter]) -> SegmentPreview:
        return await service.preview(conn, caller, data)

    @post("/", operation_id="create_segment", opt={"roles": MANAGERS})
    async def create(self, conn: Conn, caller: CallerDep, data: JSONBody[SegmentNew]) -> Segment:
        return await service.create(conn, caller, data)

    @get("/", operation_id="list_segments", opt={"roles": MANAGERS})
    async def list_segments(self, conn: Conn, caller: CallerDep) -> list[Segment]:
        return await service.list_segments(conn, caller)

    @get("/{segment_id:uuid}", operation_id="get_segment", opt={"roles": MANAGERS})
    async def get_segment(self, conn: Conn, caller: CallerDep, segment_id: FromPath[uuid.UUID]) -> Segment:
        return await service.get(conn, caller, segment_id)

    @put("/{segment_id:uuid}", operation_id="update_segment", opt={"roles": MANAGERS})
    async def update(
        self, conn: Conn, caller: CallerDep, segment_id: FromPath[uuid.UUID], data: JSONBody[SegmentNew]
    ) -> Segment:
        return await service.update(conn, caller, segment_id, data)

    @get(
        "/{segment_id:uuid}/members",
        operation_id="segment_members",
        opt={"roles": MANAGERS, CSV: True},
        responses={
            200: ResponseSpec(
                data_container=list[SegmentMember],
                generate_examples=False,
                description="The members as JSON; with ?format=csv or Accept: text/csv, as CSV (text/csv).",
            )
        },
    )
    async def members(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        caller: CallerDep,
        segment_id: FromPath[uuid.UUID],
        limit: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1000,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        fmt: Fmt = None,
    ) -> Response[bytes]:
        """The member list; ``?format=csv`` exports it (masked unless the caller is an administrator)."""
        rows = await service.members(conn, caller, segment_id, limit=limit, offset=offset)
        if wants_csv(request, fmt):
            return Response(
                content=to_csv(rows, SegmentMember).encode("utf-8"),
                media_type=CSV_TYPE,
                headers={"Content-Disposition": f'attachment; filename="segment-{segment_id}.csv"'},
            )
        return Response(content=encode(rows), media_type="application/json")


class CampaignsController(Controller):
    path = "/api/admin/campaigns"
    tags = ("marketing",)

    @post("/", operation_id="create_service_campaign", opt={"roles": MANAGERS})
    async def create(self, conn: Conn, caller: CallerDep, data: JSONBody[CampaignNew]) -> Campaign:
        async with conn.transaction():
            return await service.create_campaign(conn, caller, data)

    @get("/", operation_id="list_service_campaigns", opt={"roles": MANAGERS})
    async def list_campaigns(self, conn: Conn, caller: CallerDep) -> list[Campaign]:
        return await service.campaigns(conn, caller)

    @get("/{campaign_id:uuid}/tasks", operation_id="service_campaign_tasks", opt={"roles": MANAGERS})
    async def tasks(self, conn: Conn, caller: CallerDep, campaign_id: FromPath[uuid.UUID]) -> list[Task]:
        return await service.campaign_tasks(conn, caller, campaign_id)

    @get("/results", operation_id="task_results", opt={"roles": MANAGERS})
    async def results(
        self,
        conn: Conn,
        caller: CallerDep,
        by: FromQuery[Literal["staff", "campaign"]] = "staff",
        campaign_id: FromQuery[uuid.UUID | None] = None,
    ) -> TaskResults:
        return await service.results(conn, caller, by, campaign_id)


class TasksController(Controller):
    path = "/api/tasks"
    tags = ("marketing",)

    @get("/mine", operation_id="my_tasks", opt={"roles": FLOOR})
    async def mine(
        self,
        conn: Conn,
        caller: CallerDep,
        states: Annotated[list[str] | None, QueryParameter(name="state", required=False)] = None,
    ) -> list[Task]:
        return await service.my_tasks(conn, caller, states or [])

    @post("/{task_id:uuid}/outcome", operation_id="record_task_outcome", opt={"roles": FLOOR}, status_code=200)
    async def outcome(
        self, conn: Conn, caller: CallerDep, task_id: FromPath[uuid.UUID], data: JSONBody[TaskOutcome]
    ) -> Task:
        async with conn.transaction():
            return await service.record_outcome(conn, caller, task_id, data)
