"""A measure's number from the events of one row: counts, sums, durations, rates, on-time shares.

    timed(fact, duration, start, end, calendars)  -> Occurrence | None   a duration measure's event
    value(measure, found)                          -> (value, item ids behind it)
    column(measure)                                -> Column             the header a table shows

`found` maps measure ids to the occurrences of one row (rates read their two count measures
from it). Counts are ints, sums Decimals, durations Decimals in the measure's unit (two decimal
places), rates and on-time shares Decimal fractions in [0, 1] (four places); None where nothing
was counted. Working time is the estate's calendar's (engine/language/calendar.py), the one its
time limits count by (engine/runtime/calendars.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from engine.language.calendar import Calendar
from engine.reports.definition import Duration, Event, Measure
from engine.reports.events import Fact, Occurrence, closed_at, entries
from engine.reports.result import Column, Value
from engine.runtime.calendars import Calendars as RuntimeCalendars

__all__ = ["Calendars", "column", "duration_event", "elapsed", "timed", "value"]

RATE_PLACES = Decimal("0.0001")
DURATION_PLACES = Decimal("0.01")
_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}
_UNITS = {"minutes": "分钟", "hours": "小时", "days": "天"}


def column(measure: Measure) -> Column:
    """The column header of a measure: its label, what its numbers are in, its target as written."""
    if measure.kind == "count":
        unit = "次" if measure.event.kind == "fired" else "件"
    elif measure.kind == "duration":
        unit = _UNITS[measure.duration.unit if measure.duration else "hours"]
    elif measure.is_rate:
        unit = "%"
    else:
        unit = ""
    target = measure.target.text if measure.target else ""
    return Column(measure.id, measure.label, measure.kind, unit, target)


class Calendars:
    """The working calendar of each estate and workflow, looked up once per computation."""

    def __init__(self, source: RuntimeCalendars) -> None:
        self.source = source
        self._found: dict[tuple[str, str | None], Calendar] = {}

    def of(self, fact: Fact) -> Calendar:
        """The calendar the item's time limits count by (its workflow's own, else its estate's)."""
        key = (fact.place.id, fact.definition.calendar)
        if key not in self._found:
            self._found[key] = self.source.for_workflow(*key)
        return self._found[key]


def elapsed(fact: Fact, start: datetime, end: datetime, working: bool, calendars: Calendars) -> timedelta:
    """The time from `start` to `end`: calendar time, or the estate's working time."""
    if end <= start:
        return timedelta(0)
    if not working:
        return end - start
    return calendars.of(fact).working_time_between(start, end)


def _stays(fact: Fact, states: Iterable[str], now: datetime) -> list[tuple[datetime, datetime]]:
    """Every stay of the item in `states`: [entered, left), the current one up to `now`."""
    wanted = set(states)
    found: list[tuple[datetime, datetime]] = []
    current: str | None = None
    since: datetime | None = None
    for step in fact.steps:
        if step.to_state == current:
            continue  # a step that stays (a remark) does not end the stay
        if current in wanted and since is not None:
            found.append((since, step.at))
        current, since = step.to_state, step.at
    if current in wanted and since is not None:
        found.append((since, now))
    return found


def duration_event(spec: Duration) -> Event:
    """The event that places a from/to duration in a period: its end (`closed`, or entering a state)."""
    return Event("closed") if spec.end == "closed" else Event("entered", (spec.end,))


def timed(fact: Fact, spec: Duration, start: datetime, end: datetime, now: datetime, calendars: Calendars,
          placed: Sequence[Occurrence] = ()) -> Occurrence | None:
    """The item's duration whose end falls in [start, end) (None: none does).

    from/to: from creation, or the last entry into the `from` state before the end, to the
    closing, or the first entry into the `to` state in the period after that start.
    `in`: the time of every stay in the states (summed), placed by the measure's own event
    (`placed`: the item's occurrence of it in the period).
    """
    if spec.in_states:
        if not placed:
            return None
        total = sum((elapsed(fact, a, b, spec.working_time, calendars) for a, b in _stays(fact, spec.in_states, now)),
                    timedelta(0))
        return Occurrence(fact, placed[0].at, elapsed=total)
    if spec.end == "closed":
        moment = closed_at(fact)
        ends = [moment] if moment is not None and start <= moment < end else []
    else:
        ends = [m for m in entries(fact, (spec.end,)) if start <= m < end]
    for finish in ends:
        if spec.start == "created":
            begin: datetime | None = fact.created_at
        else:
            before = [m for m in entries(fact, (spec.start,)) if m <= finish]
            begin = before[-1] if before else None
        if begin is not None:
            return Occurrence(fact, finish, elapsed=elapsed(fact, begin, finish, spec.working_time, calendars))
    return None


def _ids(found: Iterable[Occurrence]) -> list[int]:
    return sorted({o.fact.id for o in found})


def _distinct(found: Iterable[Occurrence]) -> list[Occurrence]:
    """One occurrence per item (the first): a count of items, a sum over items."""
    seen: dict[int, Occurrence] = {}
    for occurrence in found:
        seen.setdefault(occurrence.fact.id, occurrence)
    return list(seen.values())


def _fraction(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def _statistic(measure: Measure, samples: list[timedelta]) -> Decimal | None:
    if not samples or measure.duration is None:
        return None
    seconds = [Decimal(s.total_seconds()) for s in samples]
    spec = measure.duration
    if spec.statistic == "max":
        chosen = max(seconds)
    elif spec.statistic == "median":
        chosen = Decimal(median(seconds))
    else:
        chosen = sum(seconds, Decimal(0)) / len(seconds)
    return (chosen / _SECONDS[spec.unit]).quantize(DURATION_PLACES, rounding=ROUND_HALF_UP)


def on_time(measure: Measure, found: Iterable[Occurrence], now: datetime) -> tuple[list[int], list[int]]:
    """(items with a decided deadline, of which those that missed none), by the stored deadline rows."""
    decided: list[int] = []
    met: list[int] = []
    for occurrence in _distinct(found):
        fact = occurrence.fact
        rows = [d for d in fact.deadlines
                if not measure.deadline_states or (not d.whole_item and d.state in measure.deadline_states)]
        verdicts = [d.missed(now, fact.paused) for d in rows]
        if all(v is None for v in verdicts):
            continue
        decided.append(fact.id)
        if not any(v is True for v in verdicts):
            met.append(fact.id)
    return sorted(decided), sorted(met)


def value(measure: Measure, found: Mapping[str, Sequence[Occurrence]], now: datetime) -> tuple[Value, list[int]]:
    """A measure's value over one row's occurrences, and the ids of the items behind it.

    For a rate the items behind are its denominator's; for an on-time share those with a
    decided deadline; for `fired` counts the distinct items of the firings counted.
    """
    mine = found.get(measure.id, ())
    if measure.kind == "count":
        count = len(mine) if measure.event.kind == "fired" else len(_distinct(mine))
        return count, _ids(mine)
    if measure.kind == "sum":
        total = Decimal(0)
        for occurrence in _distinct(mine):
            amount = occurrence.fact.values.get(measure.field or "")
            if isinstance(amount, int | Decimal) and not isinstance(amount, bool):
                total += Decimal(amount)
        return total, _ids(mine)
    if measure.kind == "duration":
        samples = [o.elapsed for o in _distinct(mine) if o.elapsed is not None]
        return _statistic(measure, samples), _ids(mine)
    if measure.kind == "rate":
        whole = set(_ids(found.get(measure.denominator or "", ())))
        part = set(_ids(found.get(measure.numerator or "", ()))) & whole
        return _fraction(len(part), len(whole)), sorted(whole)
    decided, met = on_time(measure, mine, now)
    return _fraction(len(met), len(decided)), decided
