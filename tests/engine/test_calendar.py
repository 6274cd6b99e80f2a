"""Working calendars: weekends, lunch breaks, public holidays and 调休 working Saturdays."""

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.errors import DefinitionError
from engine.language.calendar import Calendar, coverage_gap, load_calendar, parse_calendar
from engine.language.source import read_yaml

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = load_calendar(Path(__file__).resolve().parents[2] / "workflows" / "calendar.yaml")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_working_hours_skip_the_weekend():
    # Friday 16:30 leaves one working hour that day; the second is Monday 08:30-09:30.
    assert CALENDAR.add_working(at("2026-03-06 16:30"), timedelta(hours=2)) == at("2026-03-09 09:30")


def test_working_hours_skip_the_lunch_break():
    assert CALENDAR.add_working(at("2026-03-02 11:30"), timedelta(hours=1)) == at("2026-03-02 14:00")


def test_a_make_up_saturday_is_a_working_day():
    # 2026-10-10 is a Saturday worked in exchange for the National Day holiday.
    assert CALENDAR.is_working_day(date(2026, 10, 10))
    assert CALENDAR.add_working(at("2026-10-09 17:00"), timedelta(hours=1)) == at("2026-10-10 09:00")


def test_public_holidays_are_not_working_days():
    assert not CALENDAR.is_working_day(date(2026, 10, 1))
    # Mid-Autumn (Fri 25 to Sun 27 September): two working days from Thursday end on Tuesday.
    assert CALENDAR.add_working_days(at("2026-09-24 10:00"), 2) == at("2026-09-29 10:00")


def test_time_outside_working_hours_starts_counting_at_the_next_working_instant():
    assert CALENDAR.add_working(at("2026-03-07 10:00"), timedelta(minutes=30)) == at("2026-03-09 09:00")
    assert CALENDAR.add_working(at("2026-03-02 19:00"), timedelta(0)) == at("2026-03-03 08:30")


def test_working_time_between_two_instants():
    assert CALENDAR.working_time_between(at("2026-03-06 16:30"), at("2026-03-09 09:30")) == timedelta(hours=2)
    assert CALENDAR.working_time_between(at("2026-10-01 09:00"), at("2026-10-07 18:00")) == timedelta(0)


def test_end_of_day_is_midnight_of_the_local_day():
    assert CALENDAR.end_of_day(at("2026-03-02 15:00")) == at("2026-03-03 00:00")
    # 20:00 UTC is already the next day in Shanghai.
    utc = datetime(2026, 3, 2, 20, 0, tzinfo=ZoneInfo("UTC"))
    assert CALENDAR.end_of_day(utc) == at("2026-03-04 00:00")


def test_holiday_ranges_expand_and_keep_their_names():
    assert date(2026, 2, 20) in CALENDAR.holidays
    assert CALENDAR.names[date(2026, 2, 20)] == "春节"


def test_a_calendar_without_working_time_does_not_loop_forever():
    never = Calendar(weekend=frozenset(range(7)))
    with pytest.raises(ValueError):
        never.add_working(at("2026-03-02 09:00"), timedelta(hours=1))


def test_mistakes_in_a_calendar_file_are_problems_with_positions(tmp_path):
    path = tmp_path / "calendar.yaml"
    path.write_text(
        "timezone: Asia/Shanghia\n"
        "working_hours: [09:00-12:00, 14:00-13:00]\n"
        "weekend: [saturday, sundy]\n"
        "holidays: [2026-13-01, {from: 2026-10-07, to: 2026-10-01}]\n"
        "workday: [2026-10-10]\n",
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as caught:
        load_calendar(path)
    lines = [(p.line, p.column, p.dotted_path) for p in caught.value.problems]
    assert lines == [
        (1, 11, "timezone"),
        (2, 30, "working_hours.1"),
        (3, 21, "weekend.1"),
        (4, 12, "holidays.0"),
        (4, 24, "holidays.1"),
        (5, 1, "workday"),
    ]


def test_defaults_fill_what_a_calendar_leaves_out():
    calendar, problems = parse_calendar(*read_yaml("holidays: [2026-10-01]\n", "c.yaml")[:2])
    assert problems == []
    assert calendar.timezone == "Asia/Shanghai"
    assert calendar.weekend == frozenset({5, 6})
    assert not calendar.is_working_day(date(2026, 10, 1))


# -- when the holiday list runs out -------------------------------------------------------------


def test_a_calendar_covers_the_whole_last_year_it_lists_a_date_of():
    assert CALENDAR.covered_until == date(2026, 12, 31)
    assert Calendar().covered_until is None  # the built-in default lists no dates: nothing runs out
    assert Calendar(workdays=frozenset({date(2027, 2, 7)})).covered_until == date(2027, 12, 31)


def test_past_the_list_the_plain_working_week_counts_on_purpose():
    # 2027-01-01 will surely be 元旦, but until its dates are listed nobody knows the 调休 around
    # it: the rule is Monday to Friday, never a guess.
    assert CALENDAR.beyond_list(date(2027, 1, 1)) and not CALENDAR.beyond_list(date(2026, 12, 31))
    assert CALENDAR.is_working_day(date(2027, 1, 1))  # a Friday
    assert not CALENDAR.is_working_day(date(2027, 1, 2))  # a Saturday
    # Thursday 31 December 17:00 plus two working hours: half an hour that day, then Friday 1 January.
    assert CALENDAR.add_working(at("2026-12-31 17:00"), timedelta(hours=2)) == at("2027-01-01 10:00")
    assert CALENDAR.add_working_days(at("2026-12-31 10:00"), 2) == at("2027-01-04 10:00")


def test_the_warning_when_the_list_does_not_cover_the_next_90_days():
    gap = coverage_gap("workflows/calendar.yaml", CALENDAR, date(2026, 12, 1))
    assert str(gap) == (
        "workflows/calendar.yaml: warning: holidays and 调休 are listed up to 2026-12-31; working time after "
        "that counts Monday to Friday only. Add the next year's dates (docs/operations.md).")
    assert gap is not None and gap.chinese() == (
        "工作日历 workflows/calendar.yaml 的节假日和调休只列到 2026年12月31日；此后的工作时限只按周一至周五推算，"
        "不含法定节假日和调休。请在国务院办公厅公布下一年的节假日安排后补上日期并重新发布。")
    assert coverage_gap("c.yaml", CALENDAR, date(2026, 10, 2)) is None  # 90 days ahead is 2026-12-31
    assert coverage_gap("c.yaml", CALENDAR, date(2026, 10, 3)) is not None
    assert coverage_gap("c.yaml", Calendar(), date(2026, 12, 1)) is None


def test_the_warning_names_the_calendars_own_working_week():
    six_days = Calendar(weekend=frozenset({6}), holidays=frozenset({date(2026, 10, 1)}))
    gap = coverage_gap("c.yaml", six_days, date(2026, 12, 1))
    assert gap is not None
    assert "counts Monday to Saturday only" in str(gap) and "周一至周六" in gap.chinese()


def write_calendar(folder, year):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "calendar.yaml").write_text(
        f"timezone: Asia/Shanghai\nholidays:\n  - {{from: {year}-10-01, to: {year}-10-07, name: 国庆节}}\n",
        encoding="utf-8")
    return folder / "calendar.yaml"


def test_validate_warns_once_per_calendar_that_runs_out_and_still_exits_0(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    this_year = date.today().year
    stale = write_calendar(tmp_path / "defs" / "estates" / "old", this_year - 1)
    fresh = write_calendar(tmp_path / "defs" / "estates" / "new", this_year + 2)
    result = CliRunner().invoke(main, ["validate", str(stale), str(fresh)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 0 workflow(s), 0 overlay(s) and 2 calendar(s) checked, no problems\n"
    assert result.stderr == (
        f"{stale}: warning: holidays and 调休 are listed up to {this_year - 1}-12-31; working time after that "
        "counts Monday to Friday only. Add the next year's dates (docs/operations.md).\n")
