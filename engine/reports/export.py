"""A computed report as a file: JSON for programs, CSV and XLSX for Excel (docs/reports.md "Exports").

    to_json(result)   a dict, the shape `estateflow report --format json` prints (stable, documented)
    to_csv(result)    bytes: UTF-8 with a BOM (Excel then reads Chinese right), every table one after
                      another in one file, a blank line between them
    to_xlsx(result)   bytes: a workbook with a sheet per table, each with the header block
                      (小区, 统计期间, 生成时间, 生成人); numbers stored as numbers with number formats
    file_name(...)    the name a download, `estateflow report -o` default and the e-mail attachment use

Numbers stay numbers in every format: counts as integers, sums and durations as decimals, rates
as fractions in [0, 1] (0.95; the XLSX shows them as 95.0 % through its number format), nothing
counted as null / an empty cell. Row labels are the labels staff read, never ids.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engine.clock import DEFAULT_TIMEZONE
from engine.reports.result import Cell, Column, ReportResult, Row, TableResult, Value

__all__ = ["cell_value", "file_name", "sheet_title", "to_csv", "to_json", "to_xlsx"]

_RATES = ("rate", "on_time")
_XLSX_FORMATS = {"count": "0", "sum": "0.00", "duration": "0.0", "rate": "0.0%", "on_time": "0.0%"}
_MET_COLOUR, _MISSED_COLOUR = "FF1E7B34", "FFC0392B"  # green 达标, red 未达标: the page's colours


def cell_value(column: Column, value: Value) -> int | float | None:
    """A cell as a plain number: an int for a count, a float otherwise (a rate as a fraction), None for nothing."""
    if value is None:
        return None
    if column.kind == "count":
        return int(value)
    return float(value)


def _pairs(table: TableResult, row: Row) -> Iterator[tuple[Column, Cell]]:
    """Each cell of `row` with its column (as many cells as columns: compute builds them so)."""
    return zip(table.columns, row.cells, strict=True)


def _estate_ids(result: ReportResult) -> str:
    return ",".join(estate for estate, _name in result.estates)


def _estate_names(result: ReportResult) -> str:
    return "、".join(name for _estate, name in result.estates)


def to_json(result: ReportResult) -> dict[str, Any]:
    """The report as `estateflow report --format json` prints it.

    `{"report": id, "estate": "garden" (several: "garden,lake"), "from": "2026-11-23", "to": "2026-11-29",
    "tables": [{"title": ..., "columns": [dimension, measure labels...], "rows": [[label, numbers...]]}]}`;
    the 合计 row, when the table has one, is the last row.
    """
    return {
        "report": result.report,
        "estate": _estate_ids(result),
        "from": result.period.start.isoformat(),
        "to": result.period.end.isoformat(),
        "tables": [
            {
                "title": table.title,
                "columns": [table.dimension, *(column.label for column in table.columns)],
                "rows": [[row.label, *(cell_value(column, cell.value) for column, cell in _pairs(table, row))]
                         for row in table.rows],
            }
            for table in result.tables
        ],
    }


# --- CSV ------------------------------------------------------------------------------------------

def _csv_number(column: Column, value: Value) -> str:
    """A number as Excel reads it: no thousands separators, no % sign (rates are fractions), no exponent."""
    if value is None:
        return ""
    if column.kind == "count":
        return str(int(value))
    places = Decimal("0.0001") if column.kind in _RATES else Decimal("0.01")
    return format(Decimal(value).quantize(places).normalize(), "f")


def _header(result: ReportResult, tz: str) -> list[tuple[str, str]]:
    return [("小区", _estate_names(result)), ("统计期间", _period_text(result)),
            ("生成时间", _local(result.generated_at, tz)), ("生成人", result.generated_by)]


def _period_text(result: ReportResult) -> str:
    period = result.period
    return period.label or f"{period.start.isoformat()} 至 {period.end.isoformat()}"


def _local(moment: datetime, tz: str) -> str:
    return (moment.astimezone(ZoneInfo(tz)) if moment.tzinfo else moment).strftime("%Y-%m-%d %H:%M")


def _heading(column: Column) -> str:
    """A column's title with its unit and target: 回访率（%，目标 ≥ 100%）."""
    notes = [note for note in (column.unit, f"目标 {column.target}" if column.target else "") if note]
    return f"{column.label}（{'，'.join(notes)}）" if notes else column.label


def to_csv(result: ReportResult, *, tz: str = DEFAULT_TIMEZONE) -> bytes:
    """The report as one CSV file for Excel: UTF-8 with a BOM, CRLF line ends.

    First the report's title and the header block (小区, 统计期间, 生成时间, 生成人), then each
    table: its title on a line of its own, the column titles, the rows; a blank line before each.
    One file rather than one per table: it opens in Excel with a double click, the tables one
    under another. Rates are fractions (0.95), unformatted.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([result.title])
    writer.writerows(_header(result, tz))
    for table in result.tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow([table.dimension, *(_heading(column) for column in table.columns)])
        for row in table.rows:
            writer.writerow([row.label, *(_csv_number(column, cell.value) for column, cell in _pairs(table, row))])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- XLSX -----------------------------------------------------------------------------------------

_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_title(title: str, taken: set[str]) -> str:
    """A valid, unique sheet name: Excel forbids []:*?/\\, a leading or trailing apostrophe, more than 31
    characters and two sheets whose names differ only in case."""
    base = _FORBIDDEN.sub("_", title).strip("'").strip() or "表"
    name, number = base[:31], 2
    while name.lower() in taken:
        suffix = f"({number})"
        name, number = base[:31 - len(suffix)] + suffix, number + 1
    taken.add(name.lower())
    return name


def _width(text: str) -> int:
    """How many columns of Excel's default font a text takes: a Chinese character about two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _sheet(workbook: Any, table: TableResult, result: ReportResult, tz: str, taken: set[str]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(sheet_title(table.title, taken))
    bold = Font(bold=True)
    sheet.append([result.title])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in _header(result, tz):
        sheet.append([label, value])
        sheet.cell(sheet.max_row, 1).font = bold
    sheet.append([])
    sheet.append([table.title])
    sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
    heading_row = sheet.max_row + 1
    sheet.append([table.dimension, *(_heading(column) for column in table.columns)])
    fill = PatternFill("solid", fgColor="FFE8EEF4")
    for cell in sheet[heading_row]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in table.rows:
        sheet.append([row.label, *(cell_value(column, cell.value) for column, cell in _pairs(table, row))])
        line = sheet.max_row
        for index, (column, cell) in enumerate(_pairs(table, row), start=2):
            target = sheet.cell(line, index)
            target.number_format = _XLSX_FORMATS.get(column.kind, "0.00")
            colour = None if cell.met is None else _MET_COLOUR if cell.met else _MISSED_COLOUR
            target.font = Font(bold=row.total, color=colour)
        if row.total:
            sheet.cell(line, 1).font = bold
    sheet.freeze_panes = sheet.cell(heading_row + 1, 2)
    # Widths fit the longest text of each column (the header block's values excepted: they may run on).
    for index in range(1, len(table.columns) + 2):
        cells = [sheet.cell(r, index).value for r in range(heading_row, sheet.max_row + 1)]
        if index == 1:
            cells += [label for label, _value in _header(result, tz)]
        longest = max((_width(_shown(value)) for value in cells if value is not None), default=8)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(longest + 2, 10), 40)
    sheet.row_dimensions[heading_row].height = 30


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def to_xlsx(result: ReportResult, *, tz: str = DEFAULT_TIMEZONE) -> bytes:
    """The report as an Excel workbook: a sheet per table, named after its title.

    Each sheet starts with the report's title and the header block (小区, 统计期间, 生成时间 in `tz`,
    生成人), then the table: its title, the column titles (with unit and target), the rows. Numbers
    are numbers: counts formatted 0, sums 0.00, durations 0.0, rates 0.0 % (stored as fractions);
    a value meeting its target is green, one missing it red.
    """
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])  # the default empty sheet
    workbook.properties.creator = "estateflow"
    workbook.properties.title = result.title
    taken: set[str] = set()
    for table in result.tables:
        _sheet(workbook, table, result, tz, taken)
    if not result.tables:  # a workbook needs a sheet: the header block alone
        sheet = workbook.create_sheet(sheet_title(result.title, taken))
        sheet.append([result.title])
        for label, value in _header(result, tz):
            sheet.append([label, value])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def file_name(result: ReportResult, extension: str) -> str:
    """`complaints_weekly_garden_2026-11-23_2026-11-29.xlsx`: ASCII, safe in any shell and mail client."""
    estates = "-".join(estate for estate, _name in result.estates) or "all"
    return f"{result.report}_{estates}_{result.period.start.isoformat()}_{result.period.end.isoformat()}.{extension}"
