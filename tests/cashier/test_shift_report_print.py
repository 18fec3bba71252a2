"""X and Z shift reports printed through the receipt printer: the ESC/POS bytes carry every figure,
on 58 mm (32 columns) and 80 mm (48) paper, in Chinese and English; the shift presenter prints the Z
report at close and either report on demand, and a failing printer never loses the figures."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cashier_app.presenters.shift import ShiftPresenter, report_rows
from cashier_app.printer import CHINESE_MODE_ON, from_env, report_bytes
from cashier_app.shift_report import ReportHeader
from protocol.paper import COLUMNS_58MM, COLUMNS_80MM, display_width
from protocol.payments import Shift, ShiftReport, TenderLine
from tests.cashier.fakes import STORE, TILL, FakeShifts, online

SHIFT = uuid.UUID("01900000-0000-7000-8000-0000000c0ffe")
OPENED = 1_700_000_000_000  # 2023-11-14 22:13 UTC, 2023-11-15 06:13 in Shanghai
HEADER = ReportHeader(store="旗舰店 Flagship", till="Till 1", cashier="张* Zhang", timezone="Asia/Shanghai")


def z_report() -> ShiftReport:
    cash = TenderLine(
        tender="cash",
        sales=1_000_000,
        change=200,
        refunds=299_950,
        float_amount=50_000,
        expected=749_850,
        counted=749_750,
        difference=-100,
        count=4,
    )
    stored = TenderLine(tender="stored_value", sales=100_000, refunds=50_000, expected=50_000, count=2)
    card = TenderLine(tender="card")  # nothing moved: not printed
    shift = Shift(
        id=SHIFT,
        store_id=STORE,
        till_id=TILL,
        cashier_id=uuid.uuid4(),
        status="closed",
        float_amount=50_000,
        opened_at_ms=OPENED,
        closed_at_ms=OPENED + 8 * 3600_000,
    )
    return ShiftReport(shift=shift, final=True, tenders=[cash, stored, card], refund_count=3)


def printed_text(data: bytes) -> list[str]:
    """The text a printer prints from the bytes: after INIT and Chinese mode, before the cut."""
    assert data.startswith(b"\x1b@" + CHINESE_MODE_ON), data[:8]
    assert b"\x1dV" in data, "the paper is cut"
    body = data[len(b"\x1b@" + CHINESE_MODE_ON) :]
    body = body[: body.index(b"\x1b")]  # the next command: the paper feed before the cut
    return body.decode("gb18030").rstrip("\n").split("\n")


@pytest.mark.parametrize("columns", [COLUMNS_58MM, COLUMNS_80MM])
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh", ("Z 报表（交班）", "备用金", "销售", "找零", "退款", "应有", "实点", "短款 1.00", "储值", "退款笔数")),
        ("en", ("Z REPORT", "Float", "Sales", "Change given", "Refunds", "Expected", "Counted", "short 1.00")),
    ],
)
def test_the_z_report_prints_every_figure_within_the_paper_width(
    columns: int, language: str, words: tuple[str, ...]
) -> None:
    lines = printed_text(report_bytes(z_report(), columns, language, HEADER))
    assert all(display_width(line) <= columns for line in lines), [ln for ln in lines if display_width(ln) > columns]
    assert max(display_width(line) for line in lines) == columns, "figures sit flush with the right edge"
    text = "\n".join(lines)
    for word in words:
        assert word in text, word
    # The cash block: float, sales, change and refunds out, then expected, counted and the difference.
    for figure in ("500.00", "10,000.00", "-2.00", "-2,999.50", "7,498.50", "7,497.50"):
        assert any(line.rstrip().endswith(figure) for line in lines), figure
    assert not {"Card", "银行卡"} & set(text.split()), "a tender that did not move is left out"
    assert "2023-11-15 06:13" in text, "times in the store's time zone"
    assert "Till 1" in text
    assert text.rstrip().endswith("-" * columns)


def test_the_x_report_says_it_is_not_final() -> None:
    report = z_report()
    x = ShiftReport(shift=report.shift, final=False, tenders=report.tenders[:1], generated_at_ms=OPENED + 3600_000)
    lines = printed_text(report_bytes(x, COLUMNS_58MM, "en"))
    assert "X REPORT - shift so far" in lines[0]
    assert not any("signature" in line for line in lines)


async def test_closing_prints_the_z_report_and_x_prints_on_demand() -> None:
    printed: list[ShiftReport] = []
    shifts = FakeShifts()
    shift = ShiftPresenter(shifts, online(), printed.append)
    assert await shift.open("500")
    shifts.sales = 10_000
    assert await shift.x_report() is not None
    assert printed == [], "an X report is looked at on screen, printed only when asked"
    assert shift.can_print
    assert shift.print_report()
    assert shift.message == "X report printed."
    assert [r.final for r in printed] == [False]
    report = await shift.close("600")
    assert report is not None
    assert [r.final for r in printed] == [False, True]
    assert shift.message == "Z report printed."


async def test_a_failing_printer_keeps_the_report_on_screen() -> None:
    def jammed(_report: ShiftReport) -> None:
        raise OSError("paper out")

    shift = ShiftPresenter(FakeShifts(), online(), jammed)
    assert await shift.open("100")
    report = await shift.close("100")
    assert report is not None
    assert shift.report is report
    assert shift.message == "The report was not printed (paper out); check the printer and print again."
    assert ShiftPresenter(FakeShifts(), online()).can_print is False


def test_the_configured_printer_prints_the_report_on_58_mm_paper(tmp_path: Path) -> None:
    path = tmp_path / "printer.bin"
    printer = from_env(str(path), paper="58")
    assert printer is not None
    assert printer.columns == COLUMNS_58MM
    printer.print_report(z_report(), "zh", HEADER)
    lines = printed_text(path.read_bytes())
    assert max(display_width(line) for line in lines) == COLUMNS_58MM
    assert "短款 1.00" in "\n".join(lines)


@pytest.mark.parametrize("columns", [COLUMNS_58MM, COLUMNS_80MM])
@pytest.mark.parametrize(
    ("language", "held", "returned"), [("en", "Exceptions held", "Exceptions returned"), ("zh", "异常暂收", "异常退还")]
)
def test_cash_of_exceptions_prints_on_its_own_lines(columns: int, language: str, held: str, returned: str) -> None:
    """Cash of offline checkouts the server refused: in the drawer until given back, each on its line."""
    report = z_report()
    cash = TenderLine(
        tender="cash",
        float_amount=50_000,
        exceptions_held=769_800,
        exceptions_given_back=600_000,
        expected=219_800,
        counted=219_800,
        difference=0,
        count=2,
    )
    z = ShiftReport(shift=report.shift, final=True, tenders=[cash])
    lines = printed_text(report_bytes(z, columns, language, HEADER))
    assert all(display_width(line) <= columns for line in lines)
    assert any(line.strip().startswith(held) and line.rstrip().endswith(" 7,698.00") for line in lines), lines
    assert any(line.strip().startswith(returned) and line.rstrip().endswith(" -6,000.00") for line in lines), lines
    assert not any(word in line for line in lines for word in ("Paid in", "Paid out", "存入", "支出"))


def test_the_screen_shows_the_cash_of_exceptions_under_its_tender() -> None:
    cash = TenderLine(tender="cash", float_amount=50_000, exceptions_held=769_800, expected=819_800, count=1)
    rows = report_rows(ShiftReport(shift=z_report().shift, final=False, tenders=[cash]))
    assert [(r.tender, r.sales, r.refunds, r.expected) for r in rows] == [
        ("Cash", "¥0.00", "¥0.00", "¥8,198.00"),
        ("Exception cash", "¥7,698.00", "¥0.00", "¥7,698.00"),
    ]
