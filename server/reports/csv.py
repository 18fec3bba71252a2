"""The CSV form of a report: its ``rows``, one column per field, a UTF-8 BOM so spreadsheets read
Chinese names correctly. Lists are joined with ``|``; ``None`` is an empty cell."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import msgspec
from litestar import Request, Response

from protocol.codec import encode

CSV_TYPE = "text/csv"  # the framework adds "; charset=utf-8" (naming it here too sent the parameter twice)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "|".join(cell(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(rows: Sequence[msgspec.Struct], row_type: type[msgspec.Struct]) -> str:
    names = [f.encode_name for f in msgspec.structs.fields(row_type)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([cell(v) for v in msgspec.structs.astuple(row)])
    return "\ufeff" + out.getvalue()


def wants_csv(request: Request[Any, Any, Any], fmt: str | None) -> bool:
    """``?format=csv`` wins; otherwise an Accept header naming text/csv before JSON."""
    if fmt is not None:
        return fmt.lower() == "csv"
    accept = request.headers.get("accept", "").lower()
    if "text/csv" not in accept:
        return False
    return "application/json" not in accept or accept.index("text/csv") < accept.index("application/json")


def respond(
    request: Request[Any, Any, Any],
    fmt: str | None,
    report: msgspec.Struct,
    row_type: type[msgspec.Struct],
    name: str,
) -> Response[bytes]:
    if wants_csv(request, fmt):
        body = to_csv(report.rows, row_type)  # type: ignore[attr-defined]
        return Response(
            content=body.encode("utf-8"),
            media_type=CSV_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(content=encode(report), media_type="application/json")
