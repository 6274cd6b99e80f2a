"""Turn a checked report document into the frozen ReportDefinition (engine/reports/definition.py).

Only called on documents engine/reports/checks.py passed, so every name resolves; defaults are
applied here (period week, one period, `created` for sums, hours and the average for durations, a
line chart for a period dimension, a bar chart otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, cast

from engine.language.definition import WorkflowDefinition
from engine.language.expr import compile_expression
from engine.reports.checks import BUILT_IN_DIMENSIONS, MEASURE_KINDS, PERIOD_LABEL
from engine.reports.definition import (
    Dimension,
    Duration,
    Event,
    EventKind,
    Measure,
    MeasureKind,
    ReportDefinition,
    Table,
    Target,
)

__all__ = ["build", "event_of", "target_of"]

_TARGET = re.compile(r"^\s*(>=|<=|≥|≤)\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")


def _names(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def event_of(value: Any) -> Event:
    """`created`, `{entered: S}`, `{fired: [T, U]}`... as an Event."""
    if isinstance(value, dict) and "entered" in value:
        return Event("entered", states=_names(value["entered"]))
    if isinstance(value, dict) and "fired" in value:
        return Event("fired", transitions=_names(value["fired"]))
    return Event(cast(EventKind, value))


def target_of(text: str) -> Target:
    """">= 95%" (or ≥ 95%) as Target(Decimal('0.95'), at_least=True, text as written)."""
    match = _TARGET.match(text)
    if match is None:
        raise ValueError(f"not a target: {text!r}")
    return Target(Decimal(match.group(2)) / 100, match.group(1) in (">=", "≥"), text.strip())


def _duration(spec: Mapping[str, Any]) -> tuple[Duration, Event]:
    """The Duration of a measure and the event that places it (its end)."""
    shape = spec["duration"]
    end = shape.get("to", "closed")
    duration = Duration(start=shape.get("from", "created"), end=end, in_states=tuple(shape.get("in", ())),
                        working_time=spec.get("working_time", False) is True,
                        statistic=spec.get("statistic", "average"), unit=spec.get("unit", "hours"))
    event = Event("entered", states=(end,)) if "in" not in shape and end != "closed" else Event("closed")
    return duration, event


def _measure(measure_id: str, spec: Mapping[str, Any], fields: Mapping[str, Any] | None) -> Measure:
    kind = next(k for k in MEASURE_KINDS if k in spec)
    where = compile_expression(spec["where"], fields or {}, want="boolean") if "where" in spec else None
    target = target_of(spec["target"]) if "target" in spec else None
    states = tuple(spec.get("states", ()))
    common: dict[str, Any] = {"id": measure_id, "label": spec["label"], "kind": cast(MeasureKind, kind),
                              "where": where, "target": target}
    if kind == "count":
        event = event_of(spec["count"])
        if event.kind == "closed":
            event = Event("closed", states=states)
        return Measure(**common, event=event)
    if kind == "sum":
        event = event_of(spec.get("event", "created"))
        if event.kind == "closed":
            event = Event("closed", states=states)
        return Measure(**common, event=event, field=spec["sum"])
    if kind == "duration":
        duration, event = _duration(spec)
        return Measure(**common, event=event, duration=duration)
    if kind == "rate":
        numerator, denominator = spec["rate"]
        return Measure(**common, numerator=numerator, denominator=denominator)
    return Measure(**common, event=event_of(spec["on_time"]), deadline_states=states)


def _dimension(by: Any, label: str | None, counted: Sequence[WorkflowDefinition]) -> Dimension:
    if isinstance(by, dict):
        return Dimension("period", period=by["period"], label=label or PERIOD_LABEL)
    if by in BUILT_IN_DIMENSIONS:
        return Dimension(by, label=label or BUILT_IN_DIMENSIONS[by])
    field_label = counted[0].fields[by].label if counted else by
    return Dimension("field", field=by, label=label or field_label)


def _table(spec: Mapping[str, Any], counted: Sequence[WorkflowDefinition]) -> Table:
    by = _dimension(spec["by"], spec.get("label"), counted)
    keep = spec.get("keep") or {}
    (keep_measure, keep_at_least), = keep.items() if keep else ((None, None),)
    chart: Literal["bar", "line", "none"] = spec.get("chart", "line" if by.kind == "period" else "bar")
    return Table(title=spec["title"], by=by, measures=tuple(spec["measures"]), keep_measure=keep_measure,
                 keep_at_least=keep_at_least, chart=chart, limit=spec.get("limit"), total=spec.get("total", True))


def build(document: Mapping[str, Any], counted: Sequence[WorkflowDefinition]) -> ReportDefinition:
    """The ReportDefinition of a checked document; `counted`: the workflows it counts (checks.counted)."""
    fields = counted[0].fields if counted else None  # conditions compile alike in each (checked)
    named = document["workflows"]
    report_where = document.get("where")
    return ReportDefinition(
        id=document["id"],
        title=document["title"],
        workflows=() if named == "*" else tuple(named),
        measures=tuple(_measure(k, v, fields) for k, v in document["measures"].items()),
        tables=tuple(_table(t, counted) for t in document["tables"]),
        period=document.get("period", "week"),
        periods=document.get("periods", 1),
        description=document.get("description", ""),
        where=compile_expression(report_where, fields or {}, want="boolean") if report_where else None,
        send_to=tuple(document.get("send_to", ())),
        dashboard=tuple(document.get("dashboard", ())),
    )
