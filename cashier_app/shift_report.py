"""The X and Z shift reports laid out for the receipt printer: 58 mm (32 columns) or 80 mm (48), in
Chinese or English, on the same column grid as the server's receipts (``protocol.paper``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol.paper import COLUMNS_80MM, center, two_columns, wrap, yuan
from protocol.payments import ShiftReport, TenderLine

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "x": "X REPORT - shift so far",
        "z": "Z REPORT - shift closed",
        "till": "Till",
        "cashier": "Cashier",
        "shift": "Shift",
        "opened": "Opened",
        "closed": "Closed",
        "printed": "Printed",
        "float": "Float",
        "sales": "Sales",
        "change": "Change given",
        "refunds": "Refunds",
        "top_ups": "Top-ups",
        "pay_ins": "Paid in",
        "pay_outs": "Paid out",
        "drops": "Taken to safe",
        "exceptions_held": "Exceptions held",
        "exceptions_given_back": "Exceptions returned",
        "expected": "Expected",
        "counted": "Counted",
        "difference": "Difference",
        "over": "over",
        "short": "short",
        "exact": "exact",
        "refund_count": "Refund movements",
        "signature": "Cashier signature:",
        "cash": "Cash",
        "card": "Card",
        "wallet": "Wallet",
        "stored_value": "Stored value",
        "ecoin": "E-coin",
        "points": "Points",
    },
    "zh": {
        "x": "X 报表（班中）",
        "z": "Z 报表（交班）",
        "till": "收银台",
        "cashier": "收银员",
        "shift": "班次",
        "opened": "开班",
        "closed": "交班",
        "printed": "打印",
        "float": "备用金",
        "sales": "销售",
        "change": "找零",
        "refunds": "退款",
        "top_ups": "充值",
        "pay_ins": "存入",
        "pay_outs": "支出",
        "drops": "解款",
        "exceptions_held": "异常暂收",
        "exceptions_given_back": "异常退还",
        "expected": "应有",
        "counted": "实点",
        "difference": "差额",
        "over": "长款",
        "short": "短款",
        "exact": "无差额",
        "refund_count": "退款笔数",
        "signature": "收银员签字：",
        "cash": "现金",
        "card": "银行卡",
        "wallet": "移动支付",
        "stored_value": "储值",
        "ecoin": "电子币",
        "points": "积分",
    },
}

# Figures of a tender line, in print order; "change", "refunds", "pay_outs", "drops" and
# "exceptions_given_back" go out. Exceptions: cash of offline checkouts the server refused, held in the
# drawer until given back to the customer.
FIGURES: tuple[tuple[str, int], ...] = (
    ("float_amount", 1),
    ("sales", 1),
    ("change", -1),
    ("refunds", -1),
    ("top_ups", 1),
    ("pay_ins", 1),
    ("pay_outs", -1),
    ("drops", -1),
    ("exceptions_held", 1),
    ("exceptions_given_back", -1),
)


@dataclass(frozen=True)
class ReportHeader:
    """What the report itself does not carry: where and by whom (all optional)."""

    store: str = ""
    till: str = ""
    cashier: str = ""
    timezone: str = ""  # the store's, e.g. Asia/Shanghai; the till's own when empty


def _when(ms: int, timezone: str) -> str:
    try:
        zone = ZoneInfo(timezone) if timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    at = datetime.fromtimestamp(ms / 1000, tz=zone) if zone else datetime.fromtimestamp(ms / 1000).astimezone()
    return at.strftime("%Y-%m-%d %H:%M")


def _difference(words: dict[str, str], difference: int) -> str:
    if difference == 0:
        return words["exact"]
    return f"{words['over' if difference > 0 else 'short']} {yuan(abs(difference))}"


def printed_lines(line: TenderLine) -> bool:
    """A tender is printed when it moved (cash always: the drawer is counted)."""
    return line.tender == "cash" or bool(line.count or line.expected)


def render_report(
    report: ShiftReport,
    width: int = COLUMNS_80MM,
    language: str = "zh",
    header: ReportHeader | None = None,
    printed_at_ms: int | None = None,
) -> list[str]:
    """The report as lines of at most ``width`` columns."""
    words = LABELS.get(language, LABELS["en"])
    head = header or ReportHeader()
    rule = "-" * width
    out: list[str] = []
    if head.store:
        out += [center(line, width) for line in wrap(head.store, width)]
    out.append(center(words["z" if report.final else "x"], width))
    shift = report.shift
    if head.till:
        out.append(two_columns(words["till"], head.till, width))
    if head.cashier:
        out.append(two_columns(words["cashier"], head.cashier, width))
    out.append(two_columns(words["shift"], shift.id.hex[-8:].upper(), width))
    out.append(two_columns(words["opened"], _when(shift.opened_at_ms, head.timezone), width))
    if shift.closed_at_ms:
        out.append(two_columns(words["closed"], _when(shift.closed_at_ms, head.timezone), width))
    printed = printed_at_ms or report.generated_at_ms
    if printed:
        out.append(two_columns(words["printed"], _when(printed, head.timezone), width))
    for line in report.tenders:
        if not printed_lines(line):
            continue
        out += [rule, words.get(line.tender, line.tender)]
        for name, sign in FIGURES:
            value = getattr(line, name)
            if value:
                label = words["float" if name == "float_amount" else name]
                out.append(two_columns("  " + label, yuan(sign * value), width))
        out.append(two_columns("  " + words["expected"], yuan(line.expected), width))
        if line.counted is not None:
            out.append(two_columns("  " + words["counted"], yuan(line.counted), width))
        if line.difference is not None:
            out.append(two_columns("  " + words["difference"], _difference(words, line.difference), width))
    out += [rule, two_columns(words["refund_count"], str(report.refund_count), width)]
    if report.final:
        out += ["", words["signature"], "", rule]
    return out
