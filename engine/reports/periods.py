"""Report periods: days, weeks (Monday–Sunday), months and quarters of an estate's calendar, in Chinese.

    period(kind, today, back=0)   the day/week/month/quarter holding `today`, `back` periods earlier
    span(kind, count, today)      the `count` periods ending with the current one (an eight-week trend)
    named(name, today)            this-week, last-week, this-month, last-month, this-quarter, last-quarter,
                                  today, yesterday (the CLI's --period)
    between(start, end)           any inclusive range of dates, labelled as staff say it
    steps(kind, period)           the rows of a `{period: P}` dimension: each P overlapping the range
    bounds(period, tz)            the UTC instants [start 00:00 local, the day after the end 00:00 local)

A period is a pair of inclusive local dates (engine/reports/result.py Period); the moment an
event happened places it in a period only once turned into the estate's own local date, so
the same period reads from different UTC instants in estates of different time zones.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.reports.definition import PERIODS
from engine.reports.result import Period

__all__ = ["NAMED", "between", "bounds", "named", "period", "span", "steps", "week_label"]

NAMED = ("today", "yesterday", "this-week", "last-week", "this-month", "last-month", "this-quarter",
         "last-quarter")
"""The names `named` accepts (`estateflow report send --period`)."""


def _check(kind: str) -> None:
    if kind not in PERIODS:
        raise ValueError(f"unknown period {kind!r} (day, week, month or quarter)")


def _month_start(year: int, month: int) -> date:
    """The first day of a month given by a possibly out-of-range month number (0 is last December)."""
    year += (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


def _start_of(kind: str, day: date) -> date:
    if kind == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _shift(kind: str, start: date, count: int) -> date:
    """The start of the period `count` periods after the one starting at `start` (negative: before)."""
    if kind == "day":
        return start + timedelta(days=count)
    if kind == "week":
        return start + timedelta(weeks=count)
    months = 1 if kind == "month" else 3
    return _month_start(start.year, start.month + months * count)


def _label(kind: str, start: date, end: date) -> str:
    if kind == "day":
        return f"{start.year}年{start.month}月{start.day}日"
    if kind == "month":
        return f"{start.year}年{start.month}月"
    if kind == "quarter":
        return f"{start.year}年第{(start.month - 1) // 3 + 1}季度"
    return _range_label(start, end)


def _range_label(start: date, end: date) -> str:
    """2026年11月23日—29日, 2026年11月30日—12月6日, 2025年12月29日—2026年1月4日."""
    if start == end:
        return _label("day", start, end)
    if start.year != end.year:
        return f"{start.year}年{start.month}月{start.day}日—{end.year}年{end.month}月{end.day}日"
    if start.month != end.month:
        return f"{start.year}年{start.month}月{start.day}日—{end.month}月{end.day}日"
    return f"{start.year}年{start.month}月{start.day}日—{end.day}日"


def week_label(start: date) -> str:
    """The ISO week a Monday starts, as a trend's row reads it: 2026年第48周."""
    year, week, _ = start.isocalendar()
    return f"{year}年第{week}周"


def period(kind: str, today: date, back: int = 0) -> Period:
    """The `kind` period (day | week | month | quarter) holding `today`, or the one `back` periods earlier."""
    _check(kind)
    start = _shift(kind, _start_of(kind, today), -back)
    end = _shift(kind, start, 1) - timedelta(days=1)
    return Period(start, end, _label(kind, start, end))


def span(kind: str, count: int, today: date) -> Period:
    """The `count` periods of `kind` ending with the one holding `today` (count 1: that period)."""
    if count < 1:
        raise ValueError("a range covers at least one period")
    if count == 1:
        return period(kind, today)
    return between(period(kind, today, count - 1).start, period(kind, today).end)


def named(name: str, today: date) -> Period:
    """A period by its CLI name (this-week, last-month...); ValueError for any other name."""
    kinds = {"today": ("day", 0), "yesterday": ("day", 1)}
    for kind in ("week", "month", "quarter"):
        kinds[f"this-{kind}"] = (kind, 0)
        kinds[f"last-{kind}"] = (kind, 1)
    if name not in kinds:
        raise ValueError(f"unknown period {name!r}: one of {', '.join(NAMED)}")
    kind, back = kinds[name]
    return period(kind, today, back)


def between(start: date, end: date) -> Period:
    """The inclusive range `start`–`end`, labelled as a whole month or quarter when it is one."""
    if end < start:
        raise ValueError("the period ends before it starts")
    for kind in ("day", "month", "quarter"):
        whole = period(kind, start)
        if whole.start == start and whole.end == end:
            return whole
    return Period(start, end, _range_label(start, end))


def steps(kind: str, covered: Period) -> list[Period]:
    """The `kind` periods overlapping `covered`, chronological, each cut to the range (a trend's rows).

    Weeks read as ISO weeks (2026年第48周); a step cut by the range keeps its own label.
    """
    _check(kind)
    found: list[Period] = []
    start = _start_of(kind, covered.start)
    while start <= covered.end:
        following = _shift(kind, start, 1)
        first, last = max(start, covered.start), min(following - timedelta(days=1), covered.end)
        label = week_label(start) if kind == "week" else _label(kind, start, last)
        found.append(Period(first, last, label))
        start = following
    return found


def bounds(covered: Period, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants [first day 00:00 local, the day after the last 00:00 local) of a period."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    start = datetime.combine(covered.start, time.min, zone)
    end = datetime.combine(covered.end + timedelta(days=1), time.min, zone)
    return start.astimezone(UTC), end.astimezone(UTC)
