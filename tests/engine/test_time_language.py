"""The time features and per-estate parameters of the language: the end of the working day, parameters
(with overlays), whole-item limits and named calendars, as validate and the compiler see them."""

from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from engine.language.calendar import Calendar
from engine.language.definition import Duration
from engine.language.loader import Loader
from engine.runtime.timers import Calendars, limit_text

ROOT = Path(__file__).resolve().parents[2]
TZ = "Asia/Shanghai"
OFFICE = Calendar(holidays=frozenset({date(2026, 10, 1)}), workdays=frozenset({date(2026, 10, 10)}))


def moment(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


@pytest.mark.parametrize(("since", "due"), [
    ("2026-03-02T08:00:00", "2026-03-02T18:00:00"),   # before work: that day's end
    ("2026-03-02T10:00:00", "2026-03-02T18:00:00"),
    ("2026-03-02T12:30:00", "2026-03-02T18:00:00"),   # the lunch break is inside the working day
    ("2026-03-02T17:59:00", "2026-03-02T18:00:00"),
    ("2026-03-02T18:00:00", "2026-03-03T18:00:00"),   # after the last period: the next working day
    ("2026-03-06T20:00:00", "2026-03-09T18:00:00"),   # Friday evening: Monday
    ("2026-03-07T10:00:00", "2026-03-09T18:00:00"),   # a Saturday
    ("2026-10-01T10:00:00", "2026-10-02T18:00:00"),   # a public holiday
    ("2026-10-10T10:00:00", "2026-10-10T18:00:00"),   # a 调休 Saturday is worked
])
def test_the_end_of_the_working_day(since: str, due: str) -> None:
    assert OFFICE.end_of_working_day(moment(since)) == moment(due)


def test_the_end_of_the_working_day_of_a_calendar_without_days_off() -> None:
    desk = Calendar(periods=((time(8, 30), time(17, 30)),), weekend=frozenset())
    assert desk.end_of_working_day(moment("2026-03-07T09:00:00")) == moment("2026-03-07T17:30:00")


def test_limits_are_named_in_chinese() -> None:
    day = Duration(timedelta(days=2), "2d", 2, "d")
    assert limit_text(None, True, "end_of_day") == "当个工作日下班前"
    assert limit_text(None, False, "end_of_day") == "当天"
    assert limit_text(day, True, None) == "2个工作日"


BASE = """\
id: fees
title: 收费
parameters:
  limit: {label: 核销上限, type: decimal, value: 500}
  window: {label: 回访期限, type: duration, value: 3d}
  strict: {label: 从严, type: boolean, value: false}
fields:
  amount: {type: decimal, label: 金额}
item_sla:
  - {within: window, since: received, until: [checking], escalate_to: [boss]}
states:
  open:
    label: 待处理
    initial: true
    sla: [{within: window, not_before: 1d, escalate_to: [boss]}]
    timers: [{after: window, fire: check}]
  checking: {label: 核对中}
  done: {label: 完成, final: true}
transitions:
  - {name: check, from: open, to: checking}
  - {name: finish, from: checking, to: done, roles: [clerk], when: "amount <= param('limit') or param('strict')"}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "tests" / "data" / "good" / "runtime" / "roles.yaml", tmp_path / "roles.yaml")
    (tmp_path / "fees.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "estates" / "plaza").mkdir(parents=True)
    return tmp_path


def overlay(folder: Path, text: str) -> list[str]:
    (folder / "estates" / "plaza" / "fees.yaml").write_text(text, encoding="utf-8")
    return [f"{p.line}:{p.column} {p.dotted_path}: {p.message}"
            for p in Loader(folder).problems(folder / "fees.yaml", estate="plaza")]


def test_a_duration_parameter_stands_for_a_literal_wherever_a_duration_is_written(folder: Path) -> None:
    definition = Loader(folder).load(folder / "fees.yaml")
    three_days = Duration(timedelta(days=3), "3d", 3, "d")
    assert definition.states["open"].sla[0].within == three_days
    assert definition.states["open"].timers[0].after == three_days
    assert definition.item_sla[0].within == three_days
    assert definition.item_sla[0].until == ("checking",)
    assert definition.parameters["limit"].value == Decimal("500")


def test_an_overlay_sets_a_value_and_keeps_label_and_type(folder: Path) -> None:
    assert overlay(folder, "parameters: {limit: 2000.5, window: 2d}\n") == []
    definition = Loader(folder).load(folder / "fees.yaml", estate="plaza")
    assert definition.parameters["limit"].value == Decimal("2000.5")
    assert definition.parameters["limit"].label == "核销上限"
    assert definition.states["open"].sla[0].within == Duration(timedelta(days=2), "2d", 2, "d")
    finish = definition.transitions[1]
    assert finish.when is not None
    assert finish.when.evaluate({"amount": Decimal("1500")}, moment("2026-03-02T09:00:00")) is True


def test_an_overlay_setting_a_parameter_the_workflow_lacks_is_refused_at_its_own_line(folder: Path) -> None:
    assert overlay(folder, "title: 收费（广场）\nparameters:\n  limt: 2000\n") == [
        "3:3 parameters.limt: the workflow has no parameter 'limt' (did you mean 'limit'?) to set "
        "(its parameters: limit, window, strict); declare it in the base workflow's 'parameters'"]


def test_an_overlay_value_of_the_wrong_type_is_reported_at_the_overlay(folder: Path) -> None:
    found = overlay(folder, "parameters:\n  window: 3 days\n  strict: 1\n")
    assert found == [
        "2:11 parameters.window.value: '3 days' is not a duration such as 30m, 1h, 2d or 1w: "
        "parameter 'window' is of type duration",
        "3:11 parameters.strict.value: 1 is not true or false: parameter 'strict' is of type boolean",
    ]


def test_an_overlay_parameters_block_must_be_a_mapping(folder: Path) -> None:
    assert overlay(folder, "parameters: [limit]\n")[0].endswith("parameters: must be a mapping (id: value)")


def test_a_named_calendar_must_exist_in_the_folder(folder: Path) -> None:
    (folder / "fees.yaml").write_text("calendar: desk\n" + BASE, encoding="utf-8")
    assert [p.message for p in Loader(folder).problems(folder / "fees.yaml")] == [
        "unknown calendar 'desk': there is no calendars/desk.yaml in the definitions folder (the folder has none); "
        "leave 'calendar' out to count by calendar.yaml"]
    (folder / "calendars").mkdir()
    (folder / "calendars" / "desk.yaml").write_text("weekend: []\n", encoding="utf-8")
    definition = Loader(folder).load(folder / "fees.yaml")
    assert definition.calendar == "desk"


def test_the_shipped_intake_counts_by_the_desk_calendar() -> None:
    definition = Loader(ROOT / "workflows").load(ROOT / "workflows" / "intake.yaml")
    assert definition.calendar == "desk"


def test_a_window_opening_after_it_closes_is_caught_with_parameters_too(folder: Path) -> None:
    assert overlay(folder, "parameters: {window: 1d}\n") == [
        "15:40 states.open.sla.0.not_before: the window opens after it closes: make 'not_before' shorter than "
        "'within'"]


def test_an_estates_own_named_calendar_comes_first(tmp_path: Path) -> None:
    (tmp_path / "estates" / "plaza" / "calendars").mkdir(parents=True)
    (tmp_path / "calendars").mkdir()
    (tmp_path / "calendars" / "desk.yaml").write_text("weekend: []\n", encoding="utf-8")
    (tmp_path / "estates" / "plaza" / "calendars" / "desk.yaml").write_text("weekend: [sunday]\n", encoding="utf-8")
    calendars = Calendars(tmp_path)
    assert calendars.for_workflow("plaza", "desk").weekend == frozenset({6})
    assert calendars.for_workflow("demo", "desk").weekend == frozenset()
    assert calendars.for_workflow("demo", None).weekend == frozenset({5, 6})    # no calendar.yaml: the default
