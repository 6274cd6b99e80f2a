"""Working calendars: when the department works, and time limits counted in working time.

A calendar is kept in YAML per estate (`workflows/estates/<estate>/calendar.yaml`,
falling back to `workflows/calendar.yaml`):

    timezone: Asia/Shanghai
    working_hours: ["09:00-12:00", "13:30-18:00"]    # a lunch break between the periods
    weekend: [saturday, sunday]
    holidays: [2026-10-01, {from: 2026-10-01, to: 2026-10-07, name: 国庆节}]
    workdays: [2026-10-10]                          # 调休: a weekend day that is worked

Durations in working time: `2d` is two working days (the same time of day, two working
days on); `4h` or `30m` is that much time inside working hours; `by: end_of_day` is the
end of the working day (end_of_working_day). Calendar time is plain elapsed time in the
estate's time zone.

The holiday and 调休 lists speak for whole years (the State Council publishes a year at
once): a calendar covers up to 31 December of the last year it lists a date of. After
that day working time counts the plain working week, and `coverage_gap` says so ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.clock import DEFAULT_TIMEZONE
from engine.errors import DefinitionError, Problem
from engine.language.source import SourceMap, UnreadableFile, read_text, read_yaml

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CALENDAR_KEYS = frozenset({"timezone", "working_hours", "weekend", "holidays", "workdays"})
_PERIOD = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_MAX_DAYS_SEARCHED = 3660  # ten years: a calendar without working days must not loop forever
COVERAGE_DAYS = 90
"""A calendar whose holiday list ends sooner than this many days ahead is warned about."""


@dataclass(frozen=True, slots=True)
class Calendar:
    """Working days and hours of an estate, in its time zone."""

    timezone: str = DEFAULT_TIMEZONE
    periods: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13, 30), time(18)))
    weekend: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    names: dict[date, str] = field(default_factory=dict, compare=False)
    covered_until: date | None = field(default=None, compare=False)
    """The last day the holiday lists speak for (31 December of the last year they list a date
    of); derived from them when not given. None: the calendar lists no dates at all."""

    def __post_init__(self) -> None:
        if self.covered_until is None and (self.holidays or self.workdays):
            # A derived field of a frozen dataclass: set once, here, as dataclasses document.
            last_year = max(day.year for day in self.holidays | self.workdays)
            object.__setattr__(self, "covered_until", date(last_year, 12, 31))

    @property
    def tz(self) -> ZoneInfo:
        """The estate's time zone."""
        return ZoneInfo(self.timezone)

    def beyond_list(self, day: date) -> bool:
        """Whether `day` lies after the years the holiday and 调休 lists cover."""
        return self.covered_until is not None and day > self.covered_until

    def is_working_day(self, day: date) -> bool:
        """A 调休 workday works; a holiday does not; otherwise weekends do not.

        Past the listed years nobody knows the holidays yet: the plain working week
        counts (a deliberate rule, never a guess at next year's dates); deadlines computed
        so are marked in the item's history (engine/runtime/timers.py).
        """
        if self.beyond_list(day):
            return day.weekday() not in self.weekend
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() not in self.weekend

    def _periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        tz = self.tz
        return [
            (datetime.combine(day, start, tz), _end_of(day, end, tz))
            for start, end in self.periods
        ]

    def add_working(self, start: datetime, delta: timedelta) -> datetime:
        """`start` plus `delta` of working time (inside working hours only)."""
        remaining = delta
        local = start.astimezone(self.tz)
        day = local.date()
        for _ in range(_MAX_DAYS_SEARCHED):
            for begin, end in self._periods_on(day):
                if end <= local:
                    continue
                begin = max(begin, local)
                if begin + remaining <= end:
                    return begin + remaining
                remaining -= end - begin
            day += timedelta(days=1)
        raise ValueError("the calendar has no working time in ten years")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local time `days` working days after `start` (at a working instant)."""
        local = self.add_working(start, timedelta(0))  # snap to the next working instant
        day, counted = local.date(), 0
        for _ in range(_MAX_DAYS_SEARCHED):
            if counted == days:
                return datetime.combine(day, local.timetz().replace(tzinfo=None), self.tz)
            day += timedelta(days=1)
            counted += self.is_working_day(day)
        raise ValueError("the calendar has no working days in ten years")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much working time lies between two instants."""
        total = timedelta(0)
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            for begin, stop in self._periods_on(day):
                overlap = min(stop, end) - max(begin, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def end_of_day(self, moment: datetime) -> datetime:
        """Midnight ending the local day of `moment` ("the same day")."""
        local = moment.astimezone(self.tz)
        return datetime.combine(local.date() + timedelta(days=1), time(0), self.tz)

    def end_of_working_day(self, moment: datetime) -> datetime:
        """The end of the last working period of the working day `moment` falls on (下班前).

        At or after that day's last period, or on a day that is not worked, it is the end
        of the next working day: a call taken after hours is answered the next working day.
        """
        local = moment.astimezone(self.tz)
        day = local.date()
        for _ in range(_MAX_DAYS_SEARCHED):
            periods = self._periods_on(day)
            if periods and local < periods[-1][1]:
                return periods[-1][1]
            day += timedelta(days=1)
        raise ValueError("the calendar has no working days in ten years")


@dataclass(frozen=True, slots=True)
class CoverageGap:
    """A calendar file whose holiday list ends within the next COVERAGE_DAYS days."""

    file: str
    covered_until: date
    weekend: frozenset[int]

    def __str__(self) -> str:
        """The line `estateflow validate` prints."""
        return (f"{self.file}: warning: holidays and 调休 are listed up to {self.covered_until.isoformat()}; "
                f"working time after that counts {_week_english(self.weekend)} only. "
                "Add the next year's dates (docs/operations.md).")

    def chinese(self) -> str:
        """The same warning for the administrator's banner."""
        until = self.covered_until
        return (f"工作日历 {self.file} 的节假日和调休只列到 {until.year}年{until.month}月{until.day}日；"
                f"此后的工作时限只按{_week_chinese(self.weekend)}推算，不含法定节假日和调休。"
                "请在国务院办公厅公布下一年的节假日安排后补上日期并重新发布。")


_CHINESE_DAYS = "一二三四五六日"


def _week_english(weekend: frozenset[int]) -> str:
    days = [d for d in range(7) if d not in weekend]
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 1:
        return f"{WEEKDAYS[days[0]].capitalize()} to {WEEKDAYS[days[-1]].capitalize()}"
    return ", ".join(WEEKDAYS[d].capitalize() for d in days) or "no day"


def _week_chinese(weekend: frozenset[int]) -> str:
    days = [d for d in range(7) if d not in weekend]
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 1:
        return f"周{_CHINESE_DAYS[days[0]]}至周{_CHINESE_DAYS[days[-1]]}"
    return "、".join(f"周{_CHINESE_DAYS[d]}" for d in days) or "无工作日"


def coverage_gap(file: str, calendar: Calendar, today: date, days: int = COVERAGE_DAYS) -> CoverageGap | None:
    """The gap when `calendar` (read from `file`) does not list holidays for the next `days` days.

    A calendar listing no date at all keeps no holiday list on purpose (a desk that
    works through holidays) and has no gap.
    """
    if calendar.covered_until is None or calendar.covered_until >= today + timedelta(days=days):
        return None
    return CoverageGap(file, calendar.covered_until, calendar.weekend)


def _end_of(day: date, end: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, end, tz)


def _parse_period(text: str) -> tuple[time, time]:
    match = _PERIOD.match(text.replace(" ", ""))
    if not match:
        raise ValueError(f"{text!r} is not a period such as 09:00-12:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start = time(h1, m1)
    end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end


def _dates(raw: Any, smap: SourceMap, key: str, problems: list[Problem]) -> tuple[set[date], dict[date, str]]:
    days: set[date] = set()
    names: dict[date, str] = {}
    for i, entry in enumerate(raw if isinstance(raw, list) else []):
        try:
            if isinstance(entry, dict):
                first, last = date.fromisoformat(str(entry["from"])), date.fromisoformat(str(entry["to"]))
                if last < first or (last - first).days > 60:
                    raise ValueError("a range runs from an earlier to a later date, at most 60 days")
                span = [first + timedelta(days=n) for n in range((last - first).days + 1)]
            else:
                span = [date.fromisoformat(str(entry))]
        except (KeyError, ValueError) as error:
            problems.append(smap.problem((key, i), f"not a date (YYYY-MM-DD) or {{from, to}} range: {error}"))
            continue
        days.update(span)
        label = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(label, str):
            names.update(dict.fromkeys(span, label))
    if raw is not None and not isinstance(raw, list):
        problems.append(smap.problem((key,), "must be a list of dates"))
    return days, names


def parse_calendar(document: Any, smap: SourceMap) -> tuple[Calendar, list[Problem]]:
    """Build a Calendar from a plain document; problems carry positions."""
    problems: list[Problem] = []
    if not isinstance(document, dict):
        return Calendar(), [smap.problem((), "a calendar is a mapping (timezone, working_hours, ...)")]
    for key in document:
        if key not in CALENDAR_KEYS:
            problems.append(smap.problem((key,), f"unknown key '{key}'", key=True, code="unknown_key"))
    timezone = str(document.get("timezone", DEFAULT_TIMEZONE))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(smap.problem(("timezone",), f"unknown time zone {timezone!r} (e.g. Asia/Shanghai)"))
        timezone = DEFAULT_TIMEZONE
    periods = []
    for i, text in enumerate(document.get("working_hours") or []):
        try:
            periods.append(_parse_period(str(text)))
        except ValueError as error:
            problems.append(smap.problem(("working_hours", i), str(error)))
    weekend = set()
    for i, name in enumerate(document.get("weekend") or []):
        if str(name).lower() not in WEEKDAYS:
            problems.append(smap.problem(("weekend", i), f"{name!r} is not a weekday name such as saturday"))
        else:
            weekend.add(WEEKDAYS.index(str(name).lower()))
    holidays, names = _dates(document.get("holidays"), smap, "holidays", problems)
    workdays, _ = _dates(document.get("workdays"), smap, "workdays", problems)
    default = Calendar()
    calendar = Calendar(
        timezone=timezone,
        periods=tuple(sorted(periods)) or default.periods,
        weekend=frozenset(weekend) if "weekend" in document else default.weekend,
        holidays=frozenset(holidays),
        workdays=frozenset(workdays),
        names=names,
    )
    return calendar, problems


_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def named_calendar_problems(document: Any, smap: SourceMap, calendars_dir: Path) -> list[Problem]:
    """A workflow's `calendar: <name>` must name `calendars/<name>.yaml` of its definitions folder.

    An estate may add its own `estates/<estate>/calendars/<name>.yaml`; the folder's one is the
    default for every other estate, so it must exist.
    """
    name = document.get("calendar") if isinstance(document, dict) else None
    if not isinstance(name, str) or not _NAME.match(name) or (calendars_dir / f"{name}.yaml").is_file():
        return []
    known = sorted(p.stem for p in calendars_dir.glob("*.yaml"))
    listed = f"the calendars there: {', '.join(known)}" if known else "the folder has none"
    message = (f"unknown calendar '{name}': there is no {calendars_dir.name}/{name}.yaml in the definitions folder "
               f"({listed}); leave 'calendar' out to count by calendar.yaml")
    return [smap.problem(("calendar",), message, code="unknown_calendar")]


def load_calendar(path: Path | str) -> Calendar:
    """Read a calendar file (regular files only, bounded: source.read_text). Raises DefinitionError
    with every problem."""
    path = Path(path)
    try:
        text = read_text(path)
    except UnreadableFile as error:
        raise DefinitionError([Problem(str(path), 1, 1, (), f"cannot read the file: {error}", "io")]) from None
    document, smap, problems = read_yaml(text, str(path))
    if document is None:
        raise DefinitionError(problems)
    calendar, more = parse_calendar(document, smap)
    if problems or more:
        raise DefinitionError(problems + more)
    return calendar
