"""Read the admin pages' scripts for the API calls they make: ``FT.api("GET", "/staff/" + s.id + ...)``.

A call's path is the string literals of its second argument joined, every non-literal part standing
for one path segment (``{}``); the query string is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CALL = re.compile(r"\b(?:api|raw)\(\s*\"(GET|POST|PUT|PATCH|DELETE)\"\s*,\s*")
LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')
DOWNLOAD = re.compile(r"\bFT\.download\(\s*")  # a CSV fetched with GET
# The reports page keeps its endpoints in a table (``path: "/api/admin/reports/..."``) and reads them with GET.
TABLE_PATH = re.compile(r'\bpath:\s*"([^"]+)"')
FIELDS = re.compile(r"\bfields:\s*\[([^\]]*)\]")


@dataclass(frozen=True)
class Call:
    script: str
    method: str
    path: str  # "/staff/{}/deactivate"


def _argument(text: str, start: int) -> str:
    """The expression from ``start`` up to the comma or parenthesis that ends the argument."""
    depth, i, quote = 0, start, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            break
        i += 1
    return text[start:i]


def _path(expression: str) -> str:
    parts: list[str] = []
    pos = 0
    for m in LITERAL.finditer(expression):
        between = expression[pos : m.start()].strip().strip("+").strip()
        if between:
            parts.append("{}")
        parts.append(m.group(1))
        pos = m.end()
    if expression[pos:].strip().strip("+").strip():
        parts.append("{}")
    return "".join(parts).split("?")[0]


def calls(static_dir: Path) -> list[Call]:
    found = []
    for script in sorted(static_dir.glob("*.js")):
        text = script.read_text()
        for m in CALL.finditer(text):
            found.append(Call(script.name, m.group(1), _path(_argument(text, m.end()))))
        found.extend(Call(script.name, "GET", m.group(1)) for m in TABLE_PATH.finditer(text))
        found.extend(Call(script.name, "GET", _path(_argument(text, m.end()))) for m in DOWNLOAD.finditer(text))
    return found


def table_fields(script: Path) -> dict[str, list[str]]:
    """The report table of a script: endpoint path -> the row fields its table shows."""
    text = script.read_text()
    starts = list(TABLE_PATH.finditer(text))
    out = {}
    for m, end in zip(starts, [*(n.start() for n in starts[1:]), len(text)], strict=True):
        fields = FIELDS.search(text, m.end(), end)
        assert fields, f"no fields for {m.group(1)}"
        out[m.group(1)] = LITERAL.findall(fields.group(1))
    return out


def matches(template: str, call_path: str) -> bool:
    """Does a Litestar route path (``/staff/{staff_id:uuid}/deactivate``) serve the call's path?"""
    want = [s for s in template.split("/") if s]
    have = [s for s in call_path.split("/") if s]
    if len(want) != len(have):
        return False
    for w, h in zip(want, have, strict=True):
        if w.startswith("{"):
            if h != "{}" and w.endswith(":uuid}"):
                return False  # a literal where an id belongs
        elif w != h:
            return False
    return True
