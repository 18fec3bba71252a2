"""``/catalog``: products for devices and staff (full load, deltas, search); edits for managers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from protocol.catalog import Product, ProductCreate, ProductPage, ProductUpdate
from server.auth.guards import FLOOR, MANAGERS, Caller, store_of
from server.catalog import service
from server.deps import CallerDep, Conn

DEVICES = ("handheld", "till")


def _with_cost(request: Request[Any, Any, Any]) -> bool:
    """Cost (and so margin) is for managers only, never for devices or floor staff."""
    caller = getattr(request.state, "caller", None)
    return isinstance(caller, Caller) and caller.role in MANAGERS


class CatalogController(Controller):
    path = "/catalog"
    tags = ["catalog"]  # noqa: RUF012

    @get("/products", operation_id="listProducts", opt={"device": DEVICES, "roles": FLOOR})
    async def list_products(
        self,
        conn: Conn,
        request: Request[Any, Any, Any],
        since: Annotated[
            str | None, QueryParameter(description="next_cursor of the previous page; omit for a full load")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=service.MAX_LIMIT)] = 1000,
        q: Annotated[
            str | None, QueryParameter(max_length=100, description="SKU prefix, exact barcode or part of a name")
        ] = None,
    ) -> ProductPage:
        return await service.products(
            conn, store_of(request), since=since, limit=limit, query=q, with_cost=_with_cost(request)
        )

    @get("/products/{product_id:uuid}", operation_id="getProduct", opt={"device": DEVICES, "roles": FLOOR})
    async def get_product(
        self, conn: Conn, request: Request[Any, Any, Any], product_id: FromPath[uuid.UUID]
    ) -> Product:
        return await service.product(conn, store_of(request), product_id, _with_cost(request))

    @post("/products", operation_id="createProduct", opt={"roles": MANAGERS})
    async def create_product(self, conn: Conn, caller: CallerDep, data: JSONBody[ProductCreate]) -> Product:
        return await service.create(conn, caller.store_id, caller.staff_id, caller.device_id, data)

    @patch("/products/{product_id:uuid}", operation_id="updateProduct", opt={"roles": MANAGERS})
    async def update_product(
        self, conn: Conn, caller: CallerDep, product_id: FromPath[uuid.UUID], data: JSONBody[ProductUpdate]
    ) -> Product:
        return await service.update(conn, caller.store_id, caller.staff_id, caller.device_id, product_id, data)
