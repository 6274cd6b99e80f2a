"""Exports of a computed report: JSON (the CLI's shape), CSV for Excel, XLSX with numbers as numbers."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

from openpyxl import load_workbook

from engine.reports.export import file_name, sheet_title, to_csv, to_json, to_xlsx
from engine.reports.result import Cell, Column, Period, ReportResult, Row, TableResult

COLUMNS = (Column("received", "新增", "count", "件"), Column("closed", "办结", "count", "件"),
           Column("revisit_rate", "回访率", "rate", "%", "≥ 100%"), Column("collected", "收回金额", "sum", "元"),
           Column("to_close", "平均办结时长", "duration", "小时"))


def row(label: str, received: int, closed: int, rate: Decimal | None, collected: Decimal, hours: Decimal,
        *, total: bool = False) -> Row:
    met = None if rate is None else rate >= 1
    return Row(label, (Cell(received), Cell(closed), Cell(rate, met=met), Cell(collected), Cell(hours)), total=total)


RESULT = ReportResult(
    report="complaints_weekly",
    title="投诉周报",
    estates=(("garden", "花园小区"),),
    period=Period(date(2026, 11, 23), date(2026, 11, 29), "2026年11月23日—11月29日"),
    generated_at=datetime(2026, 11, 30, 0, 5, tzinfo=UTC),  # 08:05 in Shanghai
    generated_by="系统",
    tables=(
        TableResult("按投诉类别", "投诉类别", COLUMNS, (
            row("工程质量类", 3, 2, Decimal(1), Decimal("1200.50"), Decimal("30.25")),
            row("服务态度类", 1, 1, Decimal("0.5"), Decimal("0"), Decimal("4")),
            row("其他", 0, 0, None, Decimal("0"), Decimal("0")),
            row("合计", 4, 3, Decimal(2) / Decimal(3), Decimal("1200.50"), Decimal("21.5"), total=True),
        )),
        # 34 characters with a forbidden one: the sheet name is cut to 31 and cleaned.
        TableResult("按楼栋统计:每一栋楼的新增投诉与办结投诉数量以及回访率的明细表格", "楼栋", COLUMNS[:2], (
            Row("3栋", (Cell(2), Cell(1))),
        )),
    ),
)


def test_json_has_the_issue_shape_with_labels_first_and_typed_numbers():
    document = to_json(RESULT)
    assert list(document) == ["report", "estate", "from", "to", "tables"]
    assert (document["report"], document["estate"], document["from"], document["to"]) == (
        "complaints_weekly", "garden", "2026-11-23", "2026-11-29")
    category = document["tables"][0]
    assert category["title"] == "按投诉类别"
    assert category["columns"] == ["投诉类别", "新增", "办结", "回访率", "收回金额", "平均办结时长"]
    assert category["rows"][0] == ["工程质量类", 3, 2, 1.0, 1200.5, 30.25]
    assert category["rows"][2] == ["其他", 0, 0, None, 0.0, 0.0]
    assert category["rows"][3][0] == "合计" and abs(category["rows"][3][3] - 2 / 3) < 1e-9
    assert all(type(r[1]) is int and type(r[2]) is int for r in category["rows"])
    assert all(type(r[4]) is float for r in category["rows"])
    # Serialisable as it is: the CLI prints json.dumps of it.
    assert json.loads(json.dumps(document, ensure_ascii=False)) == document


def test_json_of_several_estates_names_them_all():
    several = ReportResult("r", "报表", (("garden", "花园小区"), ("lake", "湖畔小区")), RESULT.period,
                           RESULT.generated_at, "张三")
    assert to_json(several)["estate"] == "garden,lake" and to_json(several)["tables"] == []


def test_csv_is_utf8_with_bom_and_holds_every_table_one_after_another():
    data = to_csv(RESULT)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[:5] == [["投诉周报"], ["小区", "花园小区"], ["统计期间", "2026年11月23日—11月29日"],
                         ["生成时间", "2026-11-30 08:05"], ["生成人", "系统"]]
    assert lines[5:8] == [[], ["按投诉类别"],
                          ["投诉类别", "新增（件）", "办结（件）", "回访率（%，目标 ≥ 100%）", "收回金额（元）", "平均办结时长（小时）"]]
    assert lines[8] == ["工程质量类", "3", "2", "1", "1200.5", "30.25"]
    assert lines[10] == ["其他", "0", "0", "", "0", "0"]
    assert lines[11] == ["合计", "4", "3", "0.6667", "1200.5", "21.5"]
    assert lines[12:] == [[], ["按楼栋统计:每一栋楼的新增投诉与办结投诉数量以及回访率的明细表格"], ["楼栋", "新增（件）", "办结（件）"],
                          ["3栋", "2", "1"]]
    assert b"\r\n" in data


def test_xlsx_has_a_sheet_per_table_with_the_header_block_and_typed_numbers():
    workbook = load_workbook(io.BytesIO(to_xlsx(RESULT)))
    assert workbook.sheetnames == ["按投诉类别", "按楼栋统计_每一栋楼的新增投诉与办结投诉数量以及回访率的明细表"]
    assert all(len(name) <= 31 for name in workbook.sheetnames)
    sheet = workbook["按投诉类别"]
    assert [[c.value for c in r] for r in sheet.iter_rows(min_row=1, max_row=5, max_col=2)] == [
        ["投诉周报", None], ["小区", "花园小区"], ["统计期间", "2026年11月23日—11月29日"],
        ["生成时间", "2026-11-30 08:05"], ["生成人", "系统"]]
    assert sheet["A7"].value == "按投诉类别"
    assert [c.value for c in sheet[8]] == ["投诉类别", "新增（件）", "办结（件）", "回访率（%，目标 ≥ 100%）",
                                          "收回金额（元）", "平均办结时长（小时）"]
    first = sheet[9]
    assert [c.value for c in first] == ["工程质量类", 3, 2, 1, 1200.5, 30.25]
    assert [c.data_type for c in first[1:]] == ["n"] * 5
    assert [c.number_format for c in first[1:]] == ["0", "0", "0.0%", "0.00", "0.0"]
    assert sheet["D11"].value is None  # a rate over nothing: an empty cell, not 0
    total = sheet[12]
    assert total[0].value == "合计" and total[0].font.b and abs(total[3].value - 2 / 3) < 1e-9
    # Target colours: met green, missed red.
    assert sheet["D9"].font.color.rgb == "FF1E7B34" and sheet["D10"].font.color.rgb == "FFC0392B"
    # The Chinese heading is wider than a default column.
    assert sheet.column_dimensions["D"].width >= 20
    assert workbook.worksheets[1]["A9"].value == "3栋" and workbook.worksheets[1]["B9"].value == 2


def test_sheet_names_follow_excels_rules():
    taken: set[str] = set()
    assert sheet_title("回访/满意度[季度]", taken) == "回访_满意度_季度_"
    assert sheet_title("'合计'", taken) == "合计"
    assert sheet_title("合计", taken) == "合计(2)"
    assert sheet_title("", taken) == "表"
    long = "很长" * 20
    assert sheet_title(long, taken) == long[:31] and sheet_title(long, taken) == long[:28] + "(2)"


def test_a_report_without_tables_still_opens():
    empty = ReportResult("r", "报表", (("garden", "花园小区"),), RESULT.period, RESULT.generated_at, "张三")
    workbook = load_workbook(io.BytesIO(to_xlsx(empty)))
    assert workbook.sheetnames == ["报表"] and workbook["报表"]["B5"].value == "张三"


def test_file_names_are_ascii():
    assert file_name(RESULT, "xlsx") == "complaints_weekly_garden_2026-11-23_2026-11-29.xlsx"
