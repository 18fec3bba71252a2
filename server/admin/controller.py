"""``/admin``: the managers' pages (public HTML shells), their static files, and their own JSON reads.

The shells carry words and layout only; the data behind them comes from the JSON API with the
manager's bearer token (``/api/admin/dashboard`` and ``/api/admin/store`` here, the rest from the
features' own endpoints).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from protocol.admin import Dashboard, StoreOverview
from server.admin import pages, service
from server.admin.i18n import pick_lang
from server.auth.guards import MANAGERS
from server.deps import CallerDep, Conn
from server.errors import NotFound

LANG_COOKIE = "ft_lang"


class AdminApiController(Controller):
    path = "/api/admin"
    tags = ("admin",)

    @get("/dashboard", operation_id="adminDashboard", opt={"roles": MANAGERS})
    async def dashboard(self, conn: Conn, caller: CallerDep) -> Dashboard:
        """Today's sales, tickets and exceptions of the caller's store, and its devices' sync health."""
        return await service.dashboard(conn, caller.store_id)

    @get("/store", operation_id="adminStore", opt={"roles": MANAGERS})
    async def store(self, conn: Conn, caller: CallerDep) -> StoreOverview:
        """The caller's store and its counters."""
        return await service.store_overview(conn, caller.store_id)


def _page_response(request: Request[Any, Any, Any], key: str, lang_query: str | None) -> Response[str]:
    page = pages.PAGES.get(key)
    if page is None or page not in pages.available(request.app):
        raise NotFound("admin page", key)
    lang = pick_lang(lang_query, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language", ""))
    cookies = [Cookie(key=LANG_COOKIE, value=lang, path="/admin", samesite="strict", max_age=365 * 86400)]
    return Response(
        content=pages.render(request.app, page, lang),
        media_type=MediaType.HTML,
        headers={
            "Content-Security-Policy": pages.CSP,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
        cookies=cookies if lang_query in ("zh", "en") else [],
    )


LangQuery = Annotated[str | None, QueryParameter(name="lang", description="zh or en; remembered in a cookie")]


class AdminPagesController(Controller):
    path = "/admin"
    tags = ("admin",)
    include_in_schema = False

    @get("/", operation_id="adminHome", opt={"public": True})
    async def home(self) -> Redirect:
        return Redirect(path="/admin/dashboard")

    @get("/{page_key:str}", operation_id="adminPage", opt={"public": True})
    async def page(
        self, request: Request[Any, Any, Any], page_key: FromPath[str], lang: LangQuery = None
    ) -> Response[str]:
        """A page shell: words and layout only; its script fetches the data with the bearer token."""
        return _page_response(request, page_key, lang)


admin_static = create_static_files_router(
    path=pages.STATIC_PREFIX,
    directories=[pages.STATIC_DIR],
    name="admin_static",
    opt={"public": True},
    include_in_schema=False,
)
