"""``create_app``: the one place that wires routes, the pool, guards and error handlers."""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from server.auth.guards import access_guard, provide_caller, provide_device
from server.db.pool import pool_lifespan, provide_conn
from server.errors import exception_handlers
from server.ledger.schedule import ledger_jobs_lifespan
from server.openapi import document_errors_and_access
from server.payments.reconciler import reconciler_lifespan
from server.routes import ROUTES
from server.settings import Settings
from server.strict_body import strict_body
from server.tickets.expiry import expiry_lifespan
from server.ws.hub import stream_lifespan


def create_app(settings: Settings | None = None, dsn: str | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    dsn = dsn or settings.database_url
    if not dsn:
        raise RuntimeError("No database: set DATABASE_URL or start through `python -m server run`.")
    app = Litestar(
        route_handlers=ROUTES,
        lifespan=[
            pool_lifespan(dsn, settings.pool_min, settings.pool_max),
            stream_lifespan(dsn),
            expiry_lifespan,
            ledger_jobs_lifespan,
            reconciler_lifespan,
        ],
        dependencies={
            "conn": Provide(provide_conn),
            "caller": Provide(provide_caller),
            "device": Provide(provide_device),
        },
        guards=[access_guard],
        before_request=strict_body,
        exception_handlers=exception_handlers,
        openapi_config=OpenAPIConfig(
            title="floorticket",
            version="0.1.0",
            openapi_router=Router(path="/schema", route_handlers=[], opt={"public": True}),
            render_plugins=[SwaggerRenderPlugin()],
        ),
        cors_config=CORSConfig(allow_origins=[f"http://{settings.host}:{settings.port}"]),
        debug=False,
    )
    app.state.settings = settings
    document_errors_and_access(app)
    return app
