"""The cashier's shift: who may work this till, the opening float, the X report while open and the
Z report at close with the counted cash and the difference."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from cashier_app.presenters.ports import ShiftInfo, Shifts
from cashier_app.presenters.tenders import kind_name
from client_common.connection import ConnectionFeed
from client_common.i18n import translator
from client_common.money_text import fmt, parse_yuan
from client_common.presenters.observable import Observable
from client_common.presenters.ports import Refused, StaffSession, Unreachable
from protocol.ids import new_id
from protocol.payments import ShiftReport

T = TypeVar("T")

log = logging.getLogger(__name__)

TILL_ROLES = ("cashier", "supervisor", "manager", "admin")

translator.add(
    {
        "en": {
            "shift.not_cashier": "{name} cannot work a till; sign in with a cashier's staff number.",
            "shift.open_title": "Open the shift",
            "shift.float": "Opening cash in the drawer (yuan)",
            "shift.open": "Open shift",
            "shift.opened": "Shift open with {amount} in the drawer.",
            "shift.none": "No shift is open; count the opening cash and open one.",
            "shift.amount_bad": "Enter the amount as yuan, e.g. 500 or 500.00.",
            "shift.needs_server": "Opening and closing a shift needs the server; wait for the network.",
            "shift.count": "Cash counted in the drawer (yuan)",
            "shift.x": "X report",
            "shift.close": "Close shift (Z report)",
            "shift.closed": "Shift closed.",
            "shift.report_x": "X report · shift open since {since}",
            "shift.report_z": "Z report · shift closed",
            "shift.head": "Tender|Sales|Refunds|Expected|Counted|Difference",
            "shift.over": "over {amount}",
            "shift.short": "short {amount}",
            "shift.exact": "exact",
            "shift.exceptions": "Exception cash",
            "shift.print": "Print report",
            "shift.z": "Z report",
            "shift.printed": "{title} printed.",
            "shift.no_printer": "No receipt printer is set up on this till (FT_RECEIPT_PRINTER).",
            "shift.print_failed": "The report was not printed ({reason}); check the printer and print again.",
        },
        "zh": {
            "shift.not_cashier": "{name} 无收银权限；请用收银员工号登录。",
            "shift.open_title": "开班",
            "shift.float": "钱箱备用金（元）",
            "shift.open": "开班",
            "shift.opened": "已开班，钱箱备用金 {amount}。",
            "shift.none": "当前没有班次；请清点备用金后开班。",
            "shift.amount_bad": "请按元输入金额，如 500 或 500.00。",
            "shift.needs_server": "开班和交班需要连接服务器；请等待网络恢复。",
            "shift.count": "钱箱实点现金（元）",
            "shift.x": "X 报表",
            "shift.close": "交班（Z 报表）",
            "shift.closed": "已交班。",
            "shift.report_x": "X 报表 · 开班于 {since}",
            "shift.report_z": "Z 报表 · 已交班",
            "shift.head": "支付方式|销售|退款|应有|实点|差额",
            "shift.over": "长款 {amount}",
            "shift.short": "短款 {amount}",
            "shift.exact": "无差额",
            "shift.exceptions": "异常现金",
            "shift.print": "打印报表",
            "shift.z": "Z 报表",
            "shift.printed": "{title}已打印。",
            "shift.no_printer": "本收银台未设置小票打印机（FT_RECEIPT_PRINTER）。",
            "shift.print_failed": "报表未打印（{reason}）；请检查打印机后重新打印。",
        },
    }
)


def till_refusal(session: StaffSession) -> str:
    """Why this person may not work the till ("" when they may)."""
    return "" if session.role in TILL_ROLES else translator.tr("shift.not_cashier", name=session.name)


@dataclass(frozen=True)
class ReportRow:
    tender: str
    sales: str
    refunds: str
    expected: str
    counted: str
    difference: str


def difference_text(difference: int | None) -> str:
    if difference is None:
        return ""
    if difference == 0:
        return translator.tr("shift.exact")
    return translator.tr("shift.over" if difference > 0 else "shift.short", amount=fmt(abs(difference)))


def report_rows(report: ShiftReport) -> list[ReportRow]:
    """One row per tender that moved (cash always), in the protocol's order; after a tender, its cash of
    exceptions (offline checkouts the server refused) when there was any: held in the drawer, given
    back, and what of it is in the expected cash."""
    rows = []
    for line in report.tenders:
        if not (line.tender == "cash" or line.count or line.expected):
            continue
        rows.append(
            ReportRow(
                tender=kind_name(line.tender),
                sales=fmt(line.sales),
                refunds=fmt(line.refunds),
                expected=fmt(line.expected),
                counted=fmt(line.counted) if line.counted is not None else "",
                difference=difference_text(line.difference),
            )
        )
        if line.exceptions_held or line.exceptions_given_back:
            rows.append(
                ReportRow(
                    tender=translator.tr("shift.exceptions"),
                    sales=fmt(line.exceptions_held),
                    refunds=fmt(line.exceptions_given_back),
                    expected=fmt(line.exceptions_held - line.exceptions_given_back),
                    counted="",
                    difference="",
                )
            )
    return rows


ReportPrinter = Callable[[ShiftReport], None]
"""Prints an X or Z report on the till's receipt printer (raises when the printer fails)."""


class ShiftPresenter(Observable):
    def __init__(self, shifts: Shifts, connection: ConnectionFeed, printer: ReportPrinter | None = None) -> None:
        super().__init__()
        self._shifts = shifts
        self._connection = connection
        self._printer = printer
        self.shift: ShiftInfo | None = None
        self.report: ShiftReport | None = None
        self.message = ""
        self.busy = False
        self._opening_id: uuid.UUID | None = None

    async def resume(self) -> ShiftInfo | None:
        """Carry on with this till's open shift after a restart or a change of cashier."""
        try:
            self.shift = await self._shifts.current()
        except (Refused, Unreachable):
            self.shift = None
        self.message = "" if self.shift else translator.tr("shift.none")
        self.changed()
        return self.shift

    async def open(self, float_text: str) -> bool:
        amount = parse_yuan(float_text) if float_text.strip() else None
        if amount is None:
            return self._say("shift.amount_bad")
        if self._opening_id is None:
            self._opening_id = new_id()  # a retry after a lost answer opens the same shift
        opened = await self._call(self._shifts.open(self._opening_id, amount))
        if opened is None:
            return False
        self.shift, self._opening_id, self.report = opened, None, None
        return self._say("shift.opened", ok=True, amount=fmt(amount))

    async def x_report(self) -> ShiftReport | None:
        if self.shift is None:
            self._say("shift.none")
            return None
        report = await self._call(self._shifts.report(self.shift.shift_id))
        if report is not None:
            self.report, self.message = report, ""
            self.changed()
        return report

    async def close(self, counted_text: str) -> ShiftReport | None:
        if self.shift is None:
            self._say("shift.none")
            return None
        counted = parse_yuan(counted_text) if counted_text.strip() else None
        if counted is None:
            self._say("shift.amount_bad")
            return None
        report = await self._call(self._shifts.close(self.shift.shift_id, counted))
        if report is not None:
            self.report, self.shift = report, None
            self._say("shift.closed", ok=True)
            if self._printer is not None:  # the Z report goes in the drawer with the cash
                self.print_report()
        return report

    @property
    def can_print(self) -> bool:
        return self._printer is not None and self.report is not None

    def print_report(self) -> bool:
        """Print the report on screen (X or Z) on the till's receipt printer."""
        if self.report is None:
            return False
        if self._printer is None:
            return self._say("shift.no_printer")
        try:
            self._printer(self.report)
        except Exception as exc:  # a jammed or unplugged printer: say so, the figures stay on screen
            log.exception("shift report not printed")
            return self._say("shift.print_failed", reason=str(exc) or type(exc).__name__)
        title = translator.tr("shift.z" if self.report.final else "shift.x")
        return self._say("shift.printed", ok=True, title=title)

    async def _call(self, work: Coroutine[Any, Any, T]) -> T | None:
        if not self._connection.state.online:
            work.close()
            self._say("shift.needs_server")
            return None
        self.busy = True
        self.changed()
        try:
            return await work
        except Refused as exc:
            self.message = exc.message
            return None
        except Unreachable:
            self.message = translator.tr("error.network")
            return None
        finally:
            self.busy = False
            self.changed()

    # --- text -------------------------------------------------------------------------------------

    @property
    def rows(self) -> list[ReportRow]:
        return report_rows(self.report) if self.report else []

    @property
    def report_title(self) -> str:
        if self.report is None:
            return ""
        if self.report.final:
            return translator.tr("shift.report_z")
        since = time.strftime("%H:%M", time.localtime(self.report.shift.opened_at_ms / 1000))
        return translator.tr("shift.report_x", since=since)

    def _say(self, key: str, ok: bool = False, **values: Any) -> bool:
        self.message = translator.tr(key, **values)
        self.changed()
        return ok
