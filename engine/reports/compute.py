"""Computing a report: its tables over the items a user may see, in the estates and period asked.

    compute(session, actor, report, estates=, period=, now=)          -> ReportResult
        (registry= and calendars= default to the process's: REGISTRY, engine.runtime.timers.CALENDARS)
    items_behind(session, actor, report, estates=, period=, key=, now=) -> [item id]   the drill-down

The steps: the estates (those the actor works in; another one is refused), the items the
period can touch (engine/reports/events.py, the lists' visibility rule), then per table and
per measure the events in the period (or in each step of a `{period: P}` dimension), grouped
into rows (engine/reports/dimensions.py) and turned into numbers (engine/reports/measures.py).

Rows: every dimension value with an event, plus the rows shown even when empty (each estate,
every enum option, 是/否, each step of the range). `keep` drops rows below its minimum, `limit`
keeps the largest first measure first, and the 合计 row adds the kept rows' counts and sums and
computes rates, durations and on-time shares over the union of their items. Each cell's `key`
("table.row.column", 0-based) names the items behind it: items_behind recomputes the report and
returns exactly the ids that cell counted (a rate's denominator, a `fired` count's distinct items).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.errors import NotPermitted
from engine.language.definition import WorkflowDefinition
from engine.reports import measures
from engine.reports.definition import Measure, ReportDefinition
from engine.reports.definition import Table as TableSpec
from engine.reports.dimensions import TOTAL, Label, Labeller
from engine.reports.events import Fact, Occurrence, Place, holds, load, occurrences
from engine.reports.periods import bounds, steps
from engine.reports.result import Cell, Period, ReportResult, Row, TableResult, Value
from engine.runtime.calendars import Calendars
from engine.runtime.registry import REGISTRY, Registry
from engine.runtime.timers import CALENDARS
from engine.store.models import Estate, WorkflowVersion

__all__ = ["NOT_YOUR_ESTATE", "compute", "items_behind"]

NOT_YOUR_ESTATE = "您不在该小区工作，不能查看其报表"
NO_ESTATE = "没有这个小区"
_DIMENSION_TITLES = {"estate": "小区", "building": "楼栋", "unit": "房号", "state": "状态", "department": "责任部门",
                     "workflow": "流程", "transition": "操作", "total": "统计", "period": "期间"}
_STEP_TITLES = {"day": "日期", "week": "周", "month": "月份", "quarter": "季度"}


@dataclass(slots=True)
class _Run:
    """A computed report and the items behind each of its cells."""

    result: ReportResult
    behind: dict[str, list[int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Line:
    """A row being built: its label, and each measure's events in it."""

    label: Label
    found: dict[str, list[Occurrence]] = field(default_factory=dict)
    values: list[tuple[Value, list[int]]] = field(default_factory=list)
    total: bool = False


def _places(session: Session, actor: Actor, estates: Sequence[str] | None) -> list[Place]:
    """The estates counted: those asked (each one the actor works in), else every estate of the actor."""
    table = Estate.__table__
    stmt = select(table.c.id, table.c.name, table.c.timezone).order_by(table.c.name, table.c.id)
    if estates is None:
        stmt = stmt.where(*permissions.in_estates(actor, table.c.id))
    else:
        for estate in estates:
            if not permissions.works_in(actor, estate):
                raise NotPermitted(NOT_YOUR_ESTATE, estate=estate)
        stmt = stmt.where(table.c.id.in_(sorted(set(estates))))
    found = [Place(r.id, r.name, r.timezone) for r in session.execute(stmt)]
    if estates is not None and len(found) < len(set(estates)):
        raise NotPermitted(NO_ESTATE)
    return found


def _workflows(session: Session, report: ReportDefinition) -> list[str]:
    if report.workflows:
        return list(report.workflows)
    versions = WorkflowVersion.__table__
    return sorted(session.scalars(select(versions.c.workflow_id).distinct()))


def _needs(report: ReportDefinition) -> tuple[bool, bool]:
    """Whether the history and the deadlines must be read for this report's measures."""
    history = deadlines = False
    for m in report.measures:
        history |= m.event.kind in ("entered", "fired")
        deadlines |= m.event.kind == "missed" or m.kind == "on_time"
        if m.duration is not None:
            history |= bool(m.duration.in_states) or m.duration.start != "created" or m.duration.end != "closed"
    return history, deadlines


class _Counter:
    """The events of each measure in a window, per item; computed once, shared by the tables."""

    def __init__(self, report: ReportDefinition, facts: Sequence[Fact], now: datetime, calendars: Calendars) -> None:
        self.report = report
        self.facts = facts
        self.now = now
        self.calendars = measures.Calendars(calendars)
        self._cache: dict[tuple[str, Period], list[Occurrence]] = {}
        self._bounds: dict[tuple[Period, str], tuple[datetime, datetime]] = {}
        self._chosen: dict[str, list[Fact]] = {}

    def span(self, window: Period, place: Place) -> tuple[datetime, datetime]:
        key = (window, place.timezone)
        if key not in self._bounds:
            self._bounds[key] = bounds(window, ZoneInfo(place.timezone))
        return self._bounds[key]

    def events(self, measure: Measure, window: Period) -> list[Occurrence]:
        """The occurrences of a measure (a rate: none of its own) in `window`."""
        key = (measure.id, window)
        if key in self._cache:
            return self._cache[key]
        found: list[Occurrence] = []
        if measure.kind != "rate":
            if measure.id not in self._chosen:  # its `where`, judged once per item whatever the steps
                self._chosen[measure.id] = [f for f in self.facts if holds(measure.where, f, self.now)]
            for fact in self._chosen[measure.id]:
                start, end = self.span(window, fact.place)
                found += self._of(measure, fact, start, end)
        self._cache[key] = found
        return found

    def _of(self, measure: Measure, fact: Fact, start: datetime, end: datetime) -> list[Occurrence]:
        spec = measure.duration
        if spec is None:
            return occurrences(fact, measure.event, start, end, self.now)
        placed = occurrences(fact, measure.event, start, end, self.now) if spec.in_states else []
        if not spec.in_states:
            if not occurrences(fact, measures.duration_event(spec), start, end, self.now):
                return []
        timed = measures.timed(fact, spec, start, end, self.now, self.calendars, placed)
        return [timed] if timed is not None else []


def _read(report: ReportDefinition, spec: TableSpec) -> list[Measure]:
    """The table's measures, and the count measures its rates read."""
    wanted = [report.measure(m) for m in spec.measures]
    for m in list(wanted):
        for part in (m.numerator, m.denominator):
            if part and all(w.id != part for w in wanted):
                wanted.append(report.measure(part))
    return wanted


def _lines(spec: TableSpec, read: Sequence[Measure], counter: _Counter, labeller: Labeller | None,
           period: Period) -> list[_Line]:
    if spec.by.kind == "period":
        lines = []
        for index, step in enumerate(steps(spec.by.period or "week", period)):
            line = _Line(Label(step.label, (0, index)))
            line.found = {m.id: counter.events(m, step) for m in read}
            lines.append(line)
        return lines
    assert labeller is not None
    by_text: dict[str, _Line] = {label.text: _Line(label) for label in labeller.fixed()}
    for m in read:
        for occurrence in counter.events(m, period):
            label = labeller.of(occurrence)
            if label is None:
                continue
            line = by_text.setdefault(label.text, _Line(label))
            line.found.setdefault(m.id, []).append(occurrence)
    return sorted(by_text.values(), key=lambda line: line.label.key)


def _number(value: Value) -> float:
    return float("-inf") if value is None else float(value)


def _table(index: int, spec: TableSpec, report: ReportDefinition, counter: _Counter, labeller: Labeller | None,
           period: Period, now: datetime, behind: dict[str, list[int]]) -> TableResult:
    shown = [report.measure(m) for m in spec.measures]
    lines = _lines(spec, _read(report, spec), counter, labeller, period)
    for line in lines:
        line.values = [measures.value(m, line.found, now) for m in shown]
    if spec.keep_measure is not None and spec.keep_at_least is not None:
        position = list(spec.measures).index(spec.keep_measure)
        lines = [line for line in lines if _number(line.values[position][0]) >= spec.keep_at_least]
    if spec.limit is not None:
        lines = sorted(lines, key=lambda line: -_number(line.values[0][0]) if line.values else 0)[:spec.limit]
    if spec.by.kind == "total":
        for line in lines:
            line.total = True  # the one row is the 合计 itself
    elif spec.total:
        lines.append(_total(shown, lines, now))
    rows = []
    for r, line in enumerate(lines):
        cells = []
        for c, (measure, (value, ids)) in enumerate(zip(shown, line.values, strict=True)):
            key = f"{index}.{r}.{c}"
            behind[key] = ids
            met = measure.target.met(value) if measure.target is not None else None
            cells.append(Cell(value, met, key))
        rows.append(Row(line.label.text, tuple(cells), total=line.total))
    return TableResult(spec.title, _dimension_title(spec), tuple(measures.column(m) for m in shown),
                       tuple(rows), spec.chart)


def _total(shown: Sequence[Measure], lines: Sequence[_Line], now: datetime) -> _Line:
    """The 合计 row: counts and sums added, the rest over the union of the rows' events."""
    union: dict[str, list[Occurrence]] = {}
    for line in lines:
        for measure_id, found in line.found.items():
            union.setdefault(measure_id, []).extend(found)
    total = _Line(Label(TOTAL), union, total=True)
    for position, measure in enumerate(shown):
        value, ids = measures.value(measure, union, now)
        if measure.kind in ("count", "sum"):
            parts = [line.values[position][0] for line in lines]
            if measure.kind == "count":
                value = sum(int(v or 0) for v in parts)
            else:
                value = sum((v for v in parts if v is not None), Decimal(0))
        total.values.append((value, ids))
    return total


def _dimension_title(spec: TableSpec) -> str:
    by = spec.by
    if by.label:
        return by.label
    if by.kind == "period":
        return _STEP_TITLES.get(by.period or "", "期间")
    return _DIMENSION_TITLES.get(by.kind, by.field or "")


def _current(session: Session, workflows: Sequence[str], places: Sequence[Place],
             registry: Registry) -> tuple[list[WorkflowDefinition], list[str]]:
    """The current definitions of the report's workflows, and the estates that have none of them."""
    found: list[WorkflowDefinition] = []
    empty: list[str] = []
    for place in places:
        here = [c.definition for c in (registry.current(session, w, place.id) for w in workflows) if c is not None]
        found += here
        if not here:
            empty.append(place.name)
    return found, empty


def _warnings(period: Period, places: Sequence[Place], empty: Sequence[str], now: datetime) -> tuple[str, ...]:
    notes = [f"{name}没有本报表统计的流程" for name in empty]
    tz = ZoneInfo(places[0].timezone) if places else None
    today = now.astimezone(tz).date() if tz is not None else now.date()
    if period.end >= today >= period.start:
        notes.append(f"本期尚未结束，数字截至{now.astimezone(tz):%Y年%m月%d日 %H:%M}")
    return tuple(notes)


def _run(session: Session, actor: Actor, report: ReportDefinition, *, estates: Sequence[str] | None,
         period: Period, now: datetime, registry: Registry, calendars: Calendars) -> _Run:
    places = _places(session, actor, estates)
    workflows = _workflows(session, report)
    spans = {p.id: bounds(period, p.timezone) for p in places}
    with_history, with_deadlines = _needs(report)
    facts = [f for f in load(session, actor, workflows=workflows, places=places, spans=spans, registry=registry,
                             with_history=with_history, with_deadlines=with_deadlines)
             if holds(report.where, f, now)]
    current, empty = _current(session, workflows, places, registry)
    counter = _Counter(report, facts, now, calendars)
    behind: dict[str, list[int]] = {}
    tables = []
    for index, spec in enumerate(report.tables):
        labeller = None if spec.by.kind == "period" else Labeller(session, spec.by, facts, places, current)
        tables.append(_table(index, spec, report, counter, labeller, period, now, behind))
    result = ReportResult(
        report=report.id, title=report.title, estates=tuple((p.id, p.name) for p in places), period=period,
        generated_at=now, generated_by=actor.name, tables=tuple(tables),
        warnings=_warnings(period, places, empty, now))
    return _Run(result, behind)


def compute(session: Session, actor: Actor, report: ReportDefinition, *, estates: Sequence[str] | None = None,
            period: Period, now: datetime, registry: Registry = REGISTRY,
            calendars: Calendars = CALENDARS) -> ReportResult:
    """The report's tables over the items `actor` may see in `estates` (None: all of theirs) during `period`.

    Raises:
        NotPermitted: an estate the actor does not work in (or no such estate).
    """
    return _run(session, actor, report, estates=estates, period=period, now=now, registry=registry,
                calendars=calendars).result


def items_behind(session: Session, actor: Actor, report: ReportDefinition, *, estates: Sequence[str] | None = None,
                 period: Period, key: str, now: datetime, registry: Registry = REGISTRY,
                 calendars: Calendars = CALENDARS) -> list[int]:
    """The ids of the items a cell counted (its `key`), ascending; the same rule as compute().

    Raises:
        ValueError: a key that is not "table.row.column"; KeyError: no such cell; NotPermitted as compute().
    """
    parts = key.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a cell key: {key!r}")
    run = _run(session, actor, report, estates=estates, period=period, now=now, registry=registry,
               calendars=calendars)
    return list(run.behind[key])
