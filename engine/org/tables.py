"""Spreadsheets in and out: CSV (UTF-8, UTF-8 with BOM, GB18030, detected) and XLSX (openpyxl).

    read_table(data, filename) -> list[Row]       every non-blank row under the header, cells as text
    write_table(columns, rows, filename) -> bytes  CSV (UTF-8 with BOM, as Excel opens it) or XLSX

A `Row` is a dict column → text with the row's number as the spreadsheet shows it (`row.number`;
the header is row 1), so a problem can say `FILE:ROW: column: message`. Column names are
matched loosely: case, blanks and a BOM are ignored, and the Chinese headings staff write
(房号, 业主姓名...) mean the same as the English ones. Numbers typed into Excel come back
as staff typed them: 13812345678, not 1.3812345678E10; 89.5, not 89.50000001.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from engine.errors import RowProblem, TableError

__all__ = ["ALIASES", "MAX_BYTES", "MAX_ROWS", "Row", "read_table", "write_table"]

MAX_BYTES = 10 * 1024 * 1024
"""A household register of a large estate is well under 1 MB; bigger is a wrong file."""
MAX_ROWS = 50_000
ALIASES = {
    "小区": "estate", "小区编号": "estate", "项目": "estate", "楼栋": "building", "楼号": "building",
    "房号": "unit", "房屋": "unit", "业主": "owner_name", "业主姓名": "owner_name", "业主电话": "owner_phone",
    "租户": "tenant_name", "租户姓名": "tenant_name", "租户电话": "tenant_phone", "面积": "area_m2",
    "建筑面积": "area_m2", "标签": "tags", "用户名": "username", "账号": "username", "姓名": "name",
    "岗位": "roles", "角色": "roles", "电话": "phone", "手机": "phone", "邮箱": "email", "电子邮箱": "email",
}
"""Chinese headings → column names."""


class Row(dict[str, str]):
    """One row of a spreadsheet: column → text (stripped; '' when empty), and its `number` (header = 1)."""

    def __init__(self, number: int, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.number = number


def _column(name: object) -> str:
    text = str(name if name is not None else "").replace("\ufeff", "").strip()
    key = "_".join(text.lower().split())
    return ALIASES.get(text, ALIASES.get(key, key))


def _cell(value: Any) -> str:
    """A cell as the text staff typed: whole numbers without '.0', dates as 2026-03-02."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e18:
            return str(int(value))
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _decode(data: bytes) -> str:
    """CSV text: UTF-8 with or without the BOM Excel writes, UTF-16 with a BOM, else GB18030 (Excel in China)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _records(filename: str, data: bytes) -> Iterable[tuple[int, list[str]]]:
    """(row number, cells) of every row, header included, numbered as the spreadsheet shows them."""
    if PurePath(filename).suffix.lower() in (".xlsx", ".xlsm"):
        yield from _xlsx_records(filename, data)
        return
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        message = "无法识别文件的编码：请另存为 UTF-8 或 GB18030 的 CSV"
        raise TableError([RowProblem(filename, 1, "(文件)", message)]) from None
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count) if any(c in first for c in ",\t;") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0  # records, not lines: a cell with a line break in it is still one spreadsheet row
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, [c.strip() for c in cells]
    except csv.Error as error:
        raise TableError([RowProblem(filename, number + 1, "(文件)", f"CSV 格式有误：{error}")]) from None


def _xlsx_records(filename: str, data: bytes) -> Iterable[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # only imports that read XLSX pay for it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        message = "不是有效的 XLSX 文件（请用 Excel 另存为 .xlsx 或 .csv）"
        raise TableError([RowProblem(filename, 1, "(文件)", message)]) from None
    try:
        sheet = book.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=sheet.min_row or 1):
            yield number, [_cell(c) for c in cells]
    finally:
        book.close()


def read_table(data: bytes, filename: str) -> list[Row]:
    """The rows of a CSV or XLSX file under its header (the first non-blank row); blank rows are skipped.

    Raises TableError for a file that cannot be read, is too big, or has no header or a
    column named twice.
    """
    name = PurePath(filename).name or "upload"
    if len(data) > MAX_BYTES:
        raise TableError([RowProblem(name, 1, "(文件)", f"文件太大（最多 {MAX_BYTES // 1024 // 1024} MB）")])
    header: list[str] | None = None
    rows: list[Row] = []
    for number, cells in _records(name, data):
        if not any(cells):
            continue
        if header is None:
            header = [_column(c) for c in cells]
            named = [c for c in header if c]
            twice = sorted({c for c in named if named.count(c) > 1})
            if twice:
                raise TableError([RowProblem(name, number, c, "这一列出现了两次") for c in twice])
            continue
        if len(rows) >= MAX_ROWS:
            raise TableError([RowProblem(name, number, "(文件)", f"行数太多（最多 {MAX_ROWS} 行）")])
        values = {col: (cells[i] if i < len(cells) else "") for i, col in enumerate(header) if col}
        rows.append(Row(number, values))
    if header is None:
        raise TableError([RowProblem(name, 1, "(文件)", "文件是空的：第一行应是列名")])
    return rows


def write_table(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], filename: str) -> bytes:
    """`rows` under a header of `columns`: XLSX when `filename` ends in .xlsx, else CSV (UTF-8 with BOM)."""
    table = [[_cell(row.get(c)) for c in columns] for row in rows]
    if PurePath(filename).suffix.lower() == ".xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(list(columns))
        for line in table:
            # Text cells, so a phone stays 13812345678 and a 房号 like 3-1-502 is never read as a date.
            sheet.append(line)
        for column in sheet.iter_cols():
            for cell in column:
                cell.number_format = "@"
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(table)
    return b"\xef\xbb\xbf" + text.getvalue().encode("utf-8")
