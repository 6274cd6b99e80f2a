"""The report language (docs/reports.md): what a well-formed report compiles to, what a broken one reports.

The corpus tests/reports/data/bad/reports/*.yaml pins `estateflow validate`'s output for reports: each
file starts with `# expect: LINE:COL path: message fragment` lines, one per problem, paired one to one
with the problems found (as tests/engine/test_corpus.py does for workflows). The files are checked
against the small workflows folder tests/reports/data/workflows (complaint, repair, and estate plaza's
overlay of complaint, its override of complaints_weekly and its own report shop_complaints).
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.errors import DefinitionError
from engine.language.loader import Loader
from engine.reports.definition import Dimension, Duration, Event, Measure, Table, Target
from engine.reports.loader import compile_report, load_reports, report_files, report_problems
from tests.engine.test_corpus import expectations, pair_up

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
FOLDER = DATA / "workflows"
CORPUS = sorted((DATA / "bad" / "reports").glob("*.yaml"))


@pytest.fixture(scope="module")
def loader() -> Loader:
    return Loader(FOLDER)


def test_a_well_formed_report_compiles_to_its_definition(loader: Loader) -> None:
    report = load_reports(FOLDER, loader=loader)["complaints_weekly"]
    assert (report.id, report.title, report.workflows, report.period, report.periods) == (
        "complaints_weekly", "投诉周报", ("complaint",), "week", 1)
    assert report.send_to == ("cs_supervisor", "cs_manager") and report.dashboard == ("cs_manager",)
    assert report.where is None
    assert report.measure("received") == Measure("received", "新增", "count", Event("created"))
    assert report.measure("closed").event == Event("closed", states=("archived",))
    assert report.measure("overdue").event == Event("missed")
    assert report.measure("revisited").where is not None
    assert report.measure("revisited").where.source == "satisfaction != null"
    rate = report.measure("revisit_rate")
    assert (rate.kind, rate.numerator, rate.denominator, rate.is_rate) == ("rate", "revisited", "closed", True)
    assert rate.target == Target(Decimal("1"), True, ">= 100%")
    assert report.measure("satisfaction_rate").target == Target(Decimal("0.95"), True, "≥ 95%")
    timely = report.measure("timely")
    assert (timely.kind, timely.event, timely.deadline_states) == ("on_time", Event("closed"), ("handling",))
    assert report.measure("to_close").duration == Duration("created", "closed", working_time=True)
    assert report.measure("in_handling").duration == Duration(in_states=("handling",), statistic="median",
                                                              unit="days")
    paid = report.measure("paid")
    assert (paid.kind, paid.field, paid.event) == ("sum", "amount", Event("closed"))
    assert report.measure("dispatched").event == Event("fired", transitions=("dispatch",))
    assert report.measure("revisiting").event == Event("entered", states=("revisiting",))

    by_category, repeats, trend, revisits, firings = report.tables
    assert by_category == Table("按投诉类别", Dimension("field", field="category", label="投诉类别"),
                                ("received", "closed", "open", "overdue"))
    assert (repeats.by, repeats.keep_measure, repeats.keep_at_least, repeats.limit, repeats.total) == (
        Dimension("unit", label="房号"), "received", 2, 20, False)
    assert (trend.by, trend.chart) == (Dimension("period", period="week", label="周期"), "line")
    assert (revisits.by, revisits.chart) == (Dimension("state", label="当前状态"), "none")
    assert firings.by == Dimension("transition", label="环节")


def test_a_report_of_every_workflow_counts_each_and_labels_built_in_dimensions(loader: Loader) -> None:
    report = load_reports(FOLDER, loader=loader)["service_monthly"]
    assert (report.workflows, report.period) == ((), "month")
    assert [t.by for t in report.tables] == [Dimension("workflow", label="事项类型"), Dimension("building", label="楼栋")]


def test_an_estate_override_replaces_keys_merges_measures_by_id_and_replaces_tables(loader: Loader) -> None:
    base = load_reports(FOLDER, loader=loader)
    plaza = load_reports(FOLDER, loader=loader, estate="plaza")
    assert "shop_complaints" not in base and plaza["shop_complaints"].title == "商铺投诉"
    report = plaza["complaints_weekly"]
    assert report.title == "商业广场投诉周报"
    assert report.measure("received").label == "新增投诉"
    assert [m.id for m in report.measures] == [m.id for m in base["complaints_weekly"].measures]
    assert report.measure("closed") == base["complaints_weekly"].measure("closed")
    assert report.tables == (Table("按商铺", Dimension("field", field="shop", label="商铺"), ("received", "closed")),)
    assert report.send_to == base["complaints_weekly"].send_to


def test_every_report_file_of_the_test_folder_is_clean(loader: Loader) -> None:
    assert len(report_files(FOLDER)) == 4
    assert [str(p) for path in report_files(FOLDER) for p in report_problems(path, loader)] == []


def test_the_corpus_covers_every_check_and_says_what_it_expects() -> None:
    assert len(CORPUS) >= 12
    assert not [p.name for p in CORPUS if not expectations(p)]
    codes = {p.code for path in CORPUS for p in report_problems(path, Loader(FOLDER))}
    assert codes >= {"unknown_key", "missing_key", "oneOf", "enum", "pattern", "reserved_id", "unknown_workflow",
                     "unknown_role", "unknown_field", "field_type", "personal", "dimension_type", "expression",
                     "where", "unknown_state", "not_final", "unknown_transition", "states", "sum", "rate",
                     "unknown_measure", "measure_kind", "measure_key", "keep", "transition_dimension", "duration"}


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_file(path: Path, loader: Loader) -> None:
    missing, unexpected = pair_up(expectations(path), report_problems(path, loader))
    report = "\n".join([f"expected but not reported: {e}" for e in missing]
                       + [f"reported but not expected: {p.line}:{p.column} {p.dotted_path}: {p.message}"
                          for p in unexpected])
    assert not missing and not unexpected, f"{path.name}:\n{report}"


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "defs"
    shutil.copytree(FOLDER, folder)
    return folder


def test_an_override_problem_points_into_the_estate_file_and_checks_the_estate_workflows(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    override = folder / "estates" / "plaza" / "reports" / "complaints_weekly.yaml"
    override.write_text("tables:\n  - {title: 按级别, by: severity, measures: [received, gone]}\n", encoding="utf-8")
    found = [str(p) for p in report_problems(override, Loader(folder))]
    assert found == [
        f"{override}:2:22: tables.0.by: unknown field 'severity': a table is by a field of every workflow counted, "
        "or by estate, building, unit, state, department, workflow, transition, total, or {period: ...}",
        f"{override}:2:53: tables.0.measures.1: unknown measure 'gone' (measures: received, closed, open, overdue, "
        "revisited, revisit_rate, satisfied, satisfaction_rate, timely, to_close, in_handling, paid, dispatched, "
        "revisiting)",
    ]


def test_a_base_report_must_fit_every_estate_overlaying_a_workflow_it_counts(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "reports" / "by_severity.yaml"
    path.write_text("id: by_severity\ntitle: 按级别\nworkflows: [complaint]\nmeasures:\n  received: {label: 新增, "
                    "count: created}\ntables:\n  - {title: 按级别, by: severity, measures: [received]}\n",
                    encoding="utf-8")
    found = report_problems(path, Loader(folder))
    assert [(p.line, p.column, p.dotted_path) for p in found] == [(7, 22, "tables.0.by")]
    assert found[0].message.startswith("with the workflows of estate 'plaza': unknown field 'severity'")


def test_two_report_files_with_one_id_are_refused_at_the_second(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    text = (folder / "reports" / "service_monthly.yaml").read_text(encoding="utf-8")
    copy = folder / "reports" / "service_monthly_copy.yaml"
    copy.write_text(text, encoding="utf-8")
    found = [str(p) for p in report_problems(copy, Loader(folder))]
    assert found == [f"{copy}:2:5: id: the report id 'service_monthly' is already taken by "
                     f"{folder / 'reports' / 'service_monthly.yaml'}"]
    assert report_problems(folder / "reports" / "service_monthly.yaml", Loader(folder)) == []


def test_compile_report_raises_every_problem_at_once(loader: Loader) -> None:
    workflows = {"complaint": loader.load(FOLDER / "complaint.yaml")}
    document = {"id": "x", "title": "坏", "workflows": ["complaint", "repair"],
                "measures": {"n": {"label": "新增", "count": "created", "target": ">= 1%"}},
                "tables": [{"title": "按电话", "by": "phone", "measures": ["n", "m"]}]}
    with pytest.raises(DefinitionError) as raised:
        compile_report(document, workflows)
    assert {(p.dotted_path, p.code) for p in raised.value.problems} == {
        ("workflows.1", "unknown_workflow"), ("measures.n.target", "measure_key"),
        ("tables.0.measures.1", "unknown_measure"), ("tables.0.by", "personal")}
    assert compile_report({**document, "workflows": ["complaint"], "measures": {"n": {"label": "新增", "count": "open"}},
                           "tables": [{"title": "合计", "by": "total", "measures": ["n"]}]},
                          workflows).tables[0].by == Dimension("total", label="全部")


def test_validate_prints_each_report_problem_on_its_line_and_exits_1(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    shutil.copy(DATA / "bad" / "reports" / "personal.yaml", folder / "reports" / "personal.yaml")
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    bad = folder / "reports" / "personal.yaml"
    assert result.stdout.splitlines() == [
        f"{bad}:12:22: tables.0.by: 'phone' is personal data: reports never show personal data, so it cannot be "
        "a dimension",
        f"{bad}:13:23: tables.1.by: 'contact_name' is personal data: reports never show personal data, so it "
        "cannot be a dimension",
        f"{bad}:14:22: tables.2.by: 'note' is a text field: a table is by an enum, boolean, user, unit, string or "
        "integer field",
        f"{bad}:15:24: tables.3.by: 'reported_at' is a datetime field: a table is by an enum, boolean, user, unit, "
        "string or integer field",
    ]
    assert "4 problem(s) in 1 of 8 file(s)" in result.stderr
    assert "Traceback" not in result.output


def test_validate_counts_the_reports_of_a_clean_folder() -> None:
    result = CliRunner().invoke(main, ["validate", str(FOLDER)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 2 workflow(s), 1 overlay(s), 0 calendar(s) and 4 report(s) checked, no problems\n"


def test_a_single_estate_report_file_validates_against_its_folder() -> None:
    path = FOLDER / "estates" / "plaza" / "reports" / "shop_complaints.yaml"
    result = CliRunner().invoke(main, ["validate", str(path), "--workflows", str(FOLDER)])
    assert result.exit_code == 0, result.output


def test_the_shipped_reports_validate() -> None:
    loader = Loader(ROOT / "workflows")
    files = report_files(ROOT / "workflows")
    assert files, "workflows/reports/ ships reports"
    assert [str(p) for path in files for p in report_problems(path, loader)] == []
    assert all(report.title for report in load_reports(ROOT / "workflows", loader=loader).values())


def test_the_documentation_example_validates_against_the_shipped_workflows(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    example = text.split("## A report\n\n```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "reports" / "complaints_weekly.yaml"
    path.parent.mkdir()
    path.write_text(example, encoding="utf-8")
    assert [str(p) for p in report_problems(path, Loader(ROOT / "workflows"))] == []
