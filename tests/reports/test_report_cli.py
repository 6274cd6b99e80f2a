"""`estateflow report NAME ...`: a published report read from the database, printed as JSON, CSV or XLSX.

The organisation is tests/runtime/_access_org.py (the shipped workflows over estates `demo` and
`riverside`, the clock at Monday 2026-03-02 09:00 in Shanghai). The report is a small 投诉周报
written here and published with engine.reports.published.publish_reports, as `estateflow publish`
would; the command reads no YAML.
"""

from __future__ import annotations

import io
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from engine.cli.main import main
from engine.reports.published import publish_reports
from engine.runtime import tick as ticking
from engine.store.db import transaction
from tests._loaders import loader_of
from tests.runtime._access_org import SHIPPED, Org

REPORT = """\
id: complaints_weekly
title: 投诉周报
workflows: [complaint]
period: week
send_to: [cs_supervisor, project_manager]
measures:
  received: {label: 新增, count: created}
  closed: {label: 办结, count: closed}
  open: {label: 未结, count: open}
  overdue: {label: 超时, count: missed}
tables:
  - title: 按投诉类别
    by: category
    measures: [received, closed, open, overdue]
"""
WEEK = ["--from", "2026-03-02", "--to", "2026-03-08"]
MONDAY_AFTER = "2026-03-09T08:00+0800"


def publish_report(org: Org, folder: Path, text: str = REPORT) -> None:
    """The shipped workflows with this one report (and no other) published to the org's database."""
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns("reports"))
    (folder / "reports").mkdir()
    (folder / "reports" / "complaints_weekly.yaml").write_text(text, encoding="utf-8")
    with transaction(org.db.factory) as session:
        publish_reports(session, folder, loader=loader_of(folder), now=org.clock.now())


def complaints_of_the_week(org: Org) -> None:
    """Demo: two important 工程质量类 complaints (reported up too late), one minor 物业管理类 (not solved
    within its 2 days); one in riverside."""
    for category, severity in (("engineering", "important"), ("engineering", "important"), ("property", "minor")):
        org.create("complaint", by="frontdesk", category=category, severity=severity)
    org.create("complaint", by="riverside", estate="riverside", category="engineering", severity="minor",
               unit="1-1-101")
    # Important complaints go up within 1 hour: at 11:00 both have missed that deadline.
    ticking.advance(org.db.factory, org.clock, datetime.fromisoformat("2026-03-02T11:00+08:00"),
                    calendars=org.calendars)


@pytest.fixture
def org(db: Any, clock: Any, tmp_path: Path) -> Org:
    world = Org(db, clock)
    publish_report(world, tmp_path / "workflows")
    complaints_of_the_week(world)
    return world


def run(org: Org, *args: str) -> Any:
    return CliRunner().invoke(main, ["report", *args, "--url", org.db.url, "--now", MONDAY_AFTER])


def row_of(table: dict[str, Any], label: str) -> list[Any]:
    return next(row for row in table["rows"] if row[0] == label)


def test_json_prints_the_issue_shape_with_one_row_per_category(org):
    result = run(org, "complaints_weekly", "--estate", "demo", *WEEK, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # nothing but JSON on stdout
    assert {k: document[k] for k in ("report", "estate", "from", "to")} == {
        "report": "complaints_weekly", "estate": "demo", "from": "2026-03-02", "to": "2026-03-08"}
    [table] = document["tables"]
    assert table["title"] == "按投诉类别" and table["columns"] == ["投诉类别", "新增", "办结", "未结", "超时"]
    assert row_of(table, "工程质量类") == ["工程质量类", 2, 0, 2, 2]
    assert row_of(table, "物业管理类") == ["物业管理类", 1, 0, 1, 1]  # its 2 days ran out on Wednesday
    assert table["rows"][-1] == ["合计", 3, 0, 3, 3]
    assert all(type(value) is int for row in table["rows"] for value in row[1:])
    assert "销售管理类" not in {row[0] for row in table["rows"] if any(row[1:])}  # riverside's not counted


def test_json_is_the_default_and_a_missing_range_is_the_report_s_own_period(org):
    # --now is the Monday after: the default is that week, which holds nothing yet.
    result = run(org, "complaints_weekly", "--estate", "demo")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["from"], document["to"]) == ("2026-03-09", "2026-03-15")
    assert row_of(document["tables"][0], "工程质量类")[1] == 0
    # --to alone: the report's period ending that day (a week).
    document = json.loads(run(org, "complaints_weekly", "--estate", "demo", "--to", "2026-03-08").stdout)
    assert (document["from"], document["to"]) == ("2026-03-02", "2026-03-08")


def test_a_range_may_span_any_length(org):
    result = run(org, "complaints_weekly", "--estate", "demo", "--from", "2026-01-01", "--to", "2026-03-31")
    document = json.loads(result.stdout)
    assert (document["from"], document["to"]) == ("2026-01-01", "2026-03-31")
    assert row_of(document["tables"][0], "工程质量类")[1] == 2


def test_xlsx_goes_to_a_file_never_to_the_terminal(org, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(org, "complaints_weekly", "--estate", "demo", *WEEK, "--format", "xlsx")
    assert result.exit_code == 0 and result.stdout == ""
    written = tmp_path / "complaints_weekly_demo_2026-03-02_2026-03-08.xlsx"
    assert f"wrote {written.name}" in result.stderr
    sheet = load_workbook(written)["按投诉类别"]
    assert sheet["B2"].value == "阳光花园" and sheet["B5"].value == "系统"
    rows = {r[0]: r[1:] for r in sheet.iter_rows(min_row=9, values_only=True)}
    assert rows["工程质量类"] == (2, 0, 2, 2)
    # `-o -` pipes it on (the runner's stdout is no terminal).
    piped = run(org, "complaints_weekly", "--estate", "demo", *WEEK, "--format", "xlsx", "-o", "-")
    assert piped.exit_code == 0
    piped_rows = load_workbook(io.BytesIO(piped.stdout_bytes))["按投诉类别"].iter_rows(min_row=9, values_only=True)
    assert {r[0]: r[1:] for r in piped_rows} == rows


def test_output_file_and_its_extension_choose_the_format(org, tmp_path):
    target = tmp_path / "周报.csv"
    result = run(org, "complaints_weekly", "--estate", "demo", *WEEK, "-o", str(target))
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "工程质量类,2,0,2,2" in data.decode("utf-8-sig")
    xlsx = tmp_path / "out.xlsx"
    assert run(org, "complaints_weekly", "--estate", "demo", *WEEK, "-o", str(xlsx)).exit_code == 0
    assert load_workbook(io.BytesIO(xlsx.read_bytes())).sheetnames == ["按投诉类别"]


def test_csv_goes_to_stdout(org):
    result = run(org, "complaints_weekly", "--estate", "demo", *WEEK, "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf") and "物业管理类,1,0,1,1" in result.stdout


def test_unknown_report_or_estate_exits_1_with_one_clear_line(org):
    result = run(org, "nonesuch", "--estate", "demo")
    assert result.exit_code == 1 and "no published report 'nonesuch'" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    result = run(org, "complaints_weekly", "--estate", "atlantis")
    assert result.exit_code == 1 and "no estate 'atlantis'" in result.stderr


def test_bad_dates_are_usage_errors(org):
    result = run(org, "complaints_weekly", "--estate", "demo", "--from", "2026-03-08", "--to", "2026-03-02")
    assert result.exit_code == 2 and "ends before it starts" in result.stderr
    assert run(org, "complaints_weekly", "--estate", "demo", "--from", "8/3/2026").exit_code == 2


def test_help_explains_both_forms():
    result = CliRunner().invoke(main, ["report", "--help"])
    assert result.exit_code == 0
    assert "estateflow report NAME --estate E" in result.output and "estateflow report send NAME" in result.output
