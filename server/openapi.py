"""The served OpenAPI document says what every route really answers: who may call it (security, from the
handler's ``opt``) and the ``ErrorBody`` of every refusal, written once here rather than on each handler.
A handler with ``opt={"csv": True}`` also answers its 200 as CSV (``?format=csv`` or ``Accept: text/csv``);
the document shows that second media type next to the JSON one.

Litestar builds the document lazily on the first request for it; ``document_errors_and_access`` hooks
into that build, so creating an app stays as cheap as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from protocol.errors import ErrorBody

DOCS_PATH = "/schema"
STAFF = "staff"
DEVICE = "device"

SECURITY_SCHEMES: dict[str, Any] = {
    STAFF: {
        "type": "http",
        "scheme": "bearer",
        "description": "A staff access token from POST /auth/sign-in: `Authorization: Bearer <token>`.",
    },
    DEVICE: {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An enrolled device's token: `Authorization: Device <token>`.",
    },
}

ERRORS: dict[str, str] = {
    "400": "The request was refused: a field is missing or wrong (details.field names it).",
    "401": "No valid staff or device token (or the device was revoked).",
    "403": "The caller's role or device kind may not do this.",
    "404": "No such object in the caller's store (another store's ids answer this too).",
    "409": "The object is not in a state that allows this (e.g. already paid, id reused).",
    "503": "The database cannot be reached; try again shortly.",
    "default": "Any other refusal, with its stable code and a sentence a person can act on.",
}
PUBLIC_ERRORS = ("400", "404", "409", "503", "default")
_REF = "#/components/schemas/{name}"

CSV = "csv"  # the ``opt`` key of a handler that also answers text/csv
CSV_MEDIA_TYPE = "text/csv"
CSV_CONTENT: dict[str, Any] = {
    "schema": {
        "type": "string",
        "description": (
            "UTF-8 with a byte-order mark: a header row of the JSON rows' field names, then one line per row "
            "(lists joined with '|', null as an empty cell)."
        ),
    }
}
CSV_DISPOSITION: dict[str, Any] = {
    "description": 'attachment; filename="<report>.csv"',
    "schema": {"type": "string"},
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(name="ErrorBody")}}},
    }


def _request_body(struct: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    (ref,), defs = msgspec.json.schema_components([struct], ref_template=_REF)
    for name, definition in defs.items():
        schemas.setdefault(name, definition)
    return {"required": True, "content": {"application/json": {"schema": ref}}}


def _security(opt: dict[str, Any]) -> list[dict[str, list[str]]]:
    if opt.get("public"):
        return []
    out: list[dict[str, list[str]]] = []
    if opt.get("roles") is not None:
        out.append({STAFF: []})
    if opt.get("device") is not None:
        out.append({DEVICE: []})
    return out or [{STAFF: []}]  # a route without a rule is closed: it refuses everyone


def document(schema: dict[str, Any], routes: Iterable[HTTPRoute]) -> dict[str, Any]:
    """Add security schemes, per-operation security and error responses to a built OpenAPI dict."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _, defs = msgspec.json.schema_components([ErrorBody], ref_template=_REF)
    for name, definition in defs.items():
        schemas.setdefault(name, definition)
    components["securitySchemes"] = SECURITY_SCHEMES
    paths: dict[str, Any] = schema.get("paths", {})
    for path in [p for p in paths if p == DOCS_PATH or p.startswith(DOCS_PATH + "/")]:
        del paths[path]  # the document and its viewers are not part of the API it describes
    for route in routes:
        item = paths.get(route.path_format or "/")
        if item is None:
            continue
        for handler in route.route_handlers:
            if not isinstance(handler, HTTPRouteHandler) or not handler.include_in_schema:
                continue
            for method in handler.http_methods:
                operation = item.get(method.lower())
                if operation is None:
                    continue
                security = _security(handler.opt)
                operation["security"] = security
                body = handler.opt.get("body")
                if body is not None and "requestBody" not in operation:  # a handler decoding its raw body
                    operation["requestBody"] = _request_body(body, schemas)
                responses = operation.setdefault("responses", {})
                if handler.opt.get(CSV):
                    _add_csv(responses)
                responses["400"] = _error_response(ERRORS["400"])  # ours, not the framework's default body
                for status in ERRORS if security else PUBLIC_ERRORS:
                    responses.setdefault(status, _error_response(ERRORS[status]))
    return schema


def _add_csv(responses: dict[str, Any]) -> None:
    ok = responses.setdefault("200", {"description": "OK"})
    ok.setdefault("content", {})[CSV_MEDIA_TYPE] = CSV_CONTENT
    ok.setdefault("headers", {})["Content-Disposition"] = CSV_DISPOSITION


class _DocumentedOpenAPIPlugin(OpenAPIPlugin):
    __slots__ = ()

    def provide_openapi_schema(self) -> dict[str, Any]:
        if not self._openapi_schema:
            self._openapi_schema = document(self.provide_openapi().to_schema(), self.included_routes.values())
        return self._openapi_schema


def document_errors_and_access(app: Litestar) -> None:
    """Make ``app`` serve the completed document (see the module doc)."""
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.__class__ = _DocumentedOpenAPIPlugin
