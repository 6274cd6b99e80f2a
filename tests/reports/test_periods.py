"""Report periods: weeks run Monday to Sunday, labels read as staff say them, bounds are local midnights."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.reports import periods
from engine.reports.result import Period

THURSDAY = date(2026, 11, 26)


def test_the_week_holding_a_day_runs_monday_to_sunday() -> None:
    week = periods.period("week", THURSDAY)
    assert (week.start, week.end, week.label) == (date(2026, 11, 23), date(2026, 11, 29), "2026年11月23日—29日")
    assert periods.period("week", date(2026, 11, 23)) == week
    assert periods.period("week", date(2026, 11, 29)) == week


def test_a_week_across_months_and_years_names_both_ends() -> None:
    assert periods.period("week", date(2026, 12, 2)).label == "2026年11月30日—12月6日"
    assert periods.period("week", date(2026, 1, 1)).label == "2025年12月29日—2026年1月4日"


def test_days_months_and_quarters() -> None:
    assert periods.period("day", THURSDAY) == Period(THURSDAY, THURSDAY, "2026年11月26日")
    assert periods.period("month", THURSDAY) == Period(date(2026, 11, 1), date(2026, 11, 30), "2026年11月")
    assert periods.period("quarter", THURSDAY) == Period(date(2026, 10, 1), date(2026, 12, 31), "2026年第4季度")
    assert periods.period("month", date(2026, 2, 10)).end == date(2026, 2, 28)


def test_going_back_crosses_years() -> None:
    assert periods.period("month", date(2026, 1, 15), back=1) == Period(date(2025, 12, 1), date(2025, 12, 31),
                                                                        "2025年12月")
    assert periods.period("quarter", date(2026, 2, 1), back=1).label == "2025年第4季度"
    assert periods.period("week", THURSDAY, back=2).start == date(2026, 11, 9)


@pytest.mark.parametrize(("name", "start", "end"), [
    ("today", date(2026, 11, 26), date(2026, 11, 26)),
    ("yesterday", date(2026, 11, 25), date(2026, 11, 25)),
    ("this-week", date(2026, 11, 23), date(2026, 11, 29)),
    ("last-week", date(2026, 11, 16), date(2026, 11, 22)),
    ("this-month", date(2026, 11, 1), date(2026, 11, 30)),
    ("last-month", date(2026, 10, 1), date(2026, 10, 31)),
    ("this-quarter", date(2026, 10, 1), date(2026, 12, 31)),
    ("last-quarter", date(2026, 7, 1), date(2026, 9, 30)),
])
def test_named_periods(name: str, start: date, end: date) -> None:
    found = periods.named(name, THURSDAY)
    assert (found.start, found.end) == (start, end)


def test_an_unknown_name_or_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        periods.named("next-week", THURSDAY)
    with pytest.raises(ValueError):
        periods.period("year", THURSDAY)


def test_span_of_eight_weeks_ends_with_the_current_one() -> None:
    eight = periods.span("week", 8, THURSDAY)
    assert (eight.start, eight.end) == (date(2026, 10, 5), date(2026, 11, 29))
    assert eight.label == "2026年10月5日—11月29日"
    assert periods.span("week", 1, THURSDAY) == periods.period("week", THURSDAY)


def test_between_names_a_whole_month_or_quarter_as_such() -> None:
    assert periods.between(date(2026, 11, 1), date(2026, 11, 30)).label == "2026年11月"
    assert periods.between(date(2026, 10, 1), date(2026, 12, 31)).label == "2026年第4季度"
    assert periods.between(date(2026, 11, 23), date(2026, 11, 29)).label == "2026年11月23日—29日"
    with pytest.raises(ValueError):
        periods.between(date(2026, 11, 2), date(2026, 11, 1))


def test_week_steps_are_iso_weeks_cut_to_the_range() -> None:
    rows = periods.steps("week", periods.between(date(2026, 11, 25), date(2026, 12, 8)))
    assert [r.label for r in rows] == ["2026年第48周", "2026年第49周", "2026年第50周"]
    assert (rows[0].start, rows[0].end) == (date(2026, 11, 25), date(2026, 11, 29))
    assert (rows[-1].start, rows[-1].end) == (date(2026, 12, 7), date(2026, 12, 8))
    assert periods.steps("week", periods.period("week", date(2026, 1, 1)))[0].label == "2026年第1周"


def test_day_and_month_steps_are_chronological() -> None:
    days = periods.steps("day", periods.period("week", THURSDAY))
    assert [d.start.day for d in days] == [23, 24, 25, 26, 27, 28, 29]
    months = periods.steps("month", periods.period("quarter", THURSDAY))
    assert [m.label for m in months] == ["2026年10月", "2026年11月", "2026年12月"]


def test_bounds_are_local_midnights_in_utc() -> None:
    start, end = periods.bounds(periods.period("week", THURSDAY), "Asia/Shanghai")
    assert start == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    start, _ = periods.bounds(periods.period("day", THURSDAY), "Europe/London")
    assert start == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
