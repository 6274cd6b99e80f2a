"""A compiled report definition: immutable, built once per published version (engine/reports/loader.py).

A report (workflows/reports/<id>.yaml, docs/reports.md) names the workflows it counts, its
measures (what is counted, summed, timed or rated, and over which items: the measure's event),
and its tables (a dimension down the rows, measures across the columns). Everything here is
plain data; engine/reports/compute.py runs it against the store.

    Event        which items a measure reads in a period, and the moment that places them in it
    Measure      count | sum | duration | rate | on_time, with its label, event, filter and target
    Dimension    what the rows of a table are (estate, building, unit, state, department,
                 workflow, transition, period, or a field of the workflows)
    Table        a title, a dimension, measures, optional row filter (keep), chart, limit
    Target       a rate's goal with its direction (>= 95 %, <= 2 %)
    ReportDefinition  the whole report
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from engine.language.definition import Expression

__all__ = [
    "DIMENSION_KINDS", "EVENT_KINDS", "MEASURE_KINDS", "PERIODS", "Dimension", "Duration", "Event", "Measure",
    "ReportDefinition", "Table", "Target",
]

PERIODS = ("day", "week", "month", "quarter")
"""The lengths of a report's period and of a `period` dimension's steps. A week runs Monday to Sunday."""

EventKind = Literal["created", "closed", "open", "missed", "entered", "fired"]
EVENT_KINDS: tuple[EventKind, ...] = ("created", "closed", "open", "missed", "entered", "fired")
"""created: created in the period (whatever its state now).
closed:  entered a final state in the period (`states`: only those final states).
open:    not in a final state at the end of the period (created before its end; any age).
missed:  one of its deadlines (an escalation row of item_deadlines) fell due unmet in the period.
entered: entered one of `states` in the period (from the history).
fired:   one of `transitions` fired in the period (from the history); one event per firing.
"""

MeasureKind = Literal["count", "sum", "duration", "rate", "on_time"]
MEASURE_KINDS: tuple[MeasureKind, ...] = ("count", "sum", "duration", "rate", "on_time")

DimensionKind = Literal["estate", "building", "unit", "state", "department", "workflow", "transition", "period",
                        "field", "total"]
DIMENSION_KINDS: tuple[DimensionKind, ...] = (
    "estate", "building", "unit", "state", "department", "workflow", "transition", "period", "field", "total",
)


@dataclass(frozen=True, slots=True)
class Event:
    """Which items a measure reads in a period, and the moment that places each in the period."""

    kind: EventKind
    states: tuple[str, ...] = ()
    """`closed`: only these final states (empty: any final state); `entered`: the states entered."""
    transitions: tuple[str, ...] = ()
    """`fired`: the transitions counted."""


@dataclass(frozen=True, slots=True)
class Target:
    """A rate's goal: `at_least` (回访率 ≥ 100 %) or, `at_least` False, at most (投诉率 ≤ 2 %)."""

    value: Decimal
    """As a fraction: 0.95 for 95 %."""
    at_least: bool = True
    text: str = ""
    """As written in the YAML (≥ 95%), for the page."""

    def met(self, rate: Decimal | float | None) -> bool | None:
        """Whether `rate` meets the goal (None when there is no rate: nothing was counted)."""
        if rate is None:
            return None
        return Decimal(str(rate)) >= self.value if self.at_least else Decimal(str(rate)) <= self.value


@dataclass(frozen=True, slots=True)
class Duration:
    """What a `duration` measure times: from an event to another, or the time spent in states."""

    start: str = "created"
    """`created`, or a state id: the moment the item (last) entered it."""
    end: str = "closed"
    """`closed` (entered a final state), or a state id: the moment it (first, after start) entered it."""
    in_states: tuple[str, ...] = ()
    """Non-empty: the time spent in these states instead (every stay, summed per item)."""
    working_time: bool = False
    """Counted in the estate's working hours (its calendar) instead of calendar time."""
    statistic: Literal["average", "median", "max"] = "average"
    unit: Literal["minutes", "hours", "days"] = "hours"


@dataclass(frozen=True, slots=True)
class Measure:
    """One column of a table.

    count:    the items (or firings) of `event` that satisfy `where`.
    sum:      the decimal `field` summed over those items.
    duration: the `duration` of those items (the event is the end moment: `closed`, `entered`).
    rate:     |numerator ∩ denominator| / |denominator|, both count measures of this report, in [0, 1].
    on_time:  of the items of `event` that have a decided deadline (escalation rows met or
              missed, read from item_deadlines, never recomputed), the share that missed none.
    """

    id: str
    label: str
    kind: MeasureKind
    event: Event = Event("created")
    where: Expression | None = None
    """A condition on the item's current field values (the workflow language); None: every item."""
    field: str | None = None
    """`sum`: the decimal field summed."""
    duration: Duration | None = None
    numerator: str | None = None
    denominator: str | None = None
    """`rate`: the ids of two `count` measures."""
    deadline_states: tuple[str, ...] = ()
    """`on_time`: only the deadlines of these states (empty: every deadline, whole-item ones included)."""
    target: Target | None = None
    """`rate` and `on_time` only."""

    @property
    def is_rate(self) -> bool:
        """Whether the value is a fraction in [0, 1] (shown as a percentage)."""
        return self.kind in ("rate", "on_time")


@dataclass(frozen=True, slots=True)
class Dimension:
    """What the rows of a table are."""

    kind: DimensionKind
    field: str | None = None
    """`field`: the field id (an enum, boolean, user, unit, string or integer field; never a personal one)."""
    period: str | None = None
    """`period`: day | week | month | quarter, the rows' step."""
    label: str = ""
    """The first column's title (楼栋, 投诉类别...), from the field's label where not given."""


@dataclass(frozen=True, slots=True)
class Table:
    """A dimension down the rows, measures across; one table of the report's output."""

    title: str
    by: Dimension
    measures: tuple[str, ...]
    """Measure ids, in column order."""
    keep_measure: str | None = None
    keep_at_least: int | None = None
    """Rows kept only where `keep_measure` is at least `keep_at_least` (重复投诉: a unit with 2 or more)."""
    chart: Literal["bar", "line", "none"] = "bar"
    """`line` by default for a `period` dimension, else `bar`."""
    limit: int | None = None
    """At most this many rows, the largest first measure first (top 10 units)."""
    total: bool = True
    """A 合计 row at the end (counts and sums added; rates and durations over the union)."""


@dataclass(frozen=True, slots=True)
class ReportDefinition:
    """A checked report (workflows/reports/<id>.yaml, with the estate's override merged in)."""

    id: str
    title: str
    workflows: tuple[str, ...]
    """The workflows counted; empty means every published workflow (`workflows: '*'`)."""
    measures: tuple[Measure, ...]
    tables: tuple[Table, ...]
    period: str = "week"
    """The period offered first on the page and sent by `report send` (day | week | month | quarter)."""
    periods: int = 1
    """The default range covers this many periods, ending with the current one (8: an eight-week trend)."""
    description: str = ""
    where: Expression | None = None
    """A condition every counted item satisfies (single-workflow reports only)."""
    send_to: tuple[str, ...] = ()
    """Roles e-mailed by `estateflow report send` (each holder in the estate with an address)."""
    dashboard: tuple[str, ...] = ()
    """Roles whose home page shows this report's first table (this period)."""

    def measure(self, measure_id: str) -> Measure:
        """The measure of that id (the loader has checked every reference)."""
        return next(m for m in self.measures if m.id == measure_id)
