"""The rows of a table: what each event's row is called, and the order rows come in.

    Labeller(session, dimension, facts, places, definitions)
    labeller.of(occurrence) -> Label     the row an event falls in
    labeller.fixed()        -> [Label]   rows shown even when empty (every enum option, 是/否, each estate)

Labels are what staff read, never ids: an enum option's label, 是/否, a person's display
name (engine/runtime/parties.display_names), the building's name, the unit number, the state's
and the transition's labels, the workflow's title, the department's label (the option of the
workflow's department field). A missing value reads 未填写 (未指定楼栋, 未指定房号, 未指定部门)
and comes last. Rows follow enum option order (is 是 before 否, states and transitions in the
workflow's order), the rest by label. A personal field never labels a row: every value of one
reads as one row, and so does a phone field even when not marked personal (the loader refuses
such tables; this is the last guard).
The `period` dimension's rows are the steps of the range (engine/reports/periods.py), placed by
compute.py itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine.language.definition import WorkflowDefinition
from engine.reports.definition import Dimension
from engine.reports.events import Fact, Occurrence, Place
from engine.runtime.parties import display_names
from engine.store.models import Building, Unit
from engine.views.units import building_label

__all__ = ["MISSING", "NO_BUILDING", "NO_DEPARTMENT", "NO_UNIT", "PERSONAL", "TOTAL", "Label", "Labeller"]

MISSING = "未填写"
NO_BUILDING = "未指定楼栋"
NO_UNIT = "未指定房号"
NO_DEPARTMENT = "未指定部门"
TOTAL = "合计"
PERSONAL = "（个人信息不统计）"
UNKNOWN_PERSON = "（未知人员）"

units = cast(Table, Unit.__table__)
buildings = cast(Table, Building.__table__)


@dataclass(frozen=True, slots=True)
class Label:
    """A row: its label, and where it sorts (group 1: a missing value, last)."""

    text: str
    order: tuple[int, int] = (0, 0)

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.order[0], self.order[1], self.text)


_LAST = (1, 0)
_DIGITS = re.compile(r"\d+")


def _leading_number(text: str) -> int:
    """The first number in a building or unit name (3栋 → 3, 1-2-301 → 1), so 2栋 sorts before 10栋."""
    found = _DIGITS.search(text)
    return int(found.group()) if found else 0


def _index(options: Iterable[str], wanted: str) -> int:
    for index, option in enumerate(options):
        if option == wanted:
            return index
    return 0


class Labeller:
    """Labels the rows of one dimension over the facts of one computation."""

    def __init__(self, session: Session, dimension: Dimension, facts: Sequence[Fact], places: Sequence[Place],
                 definitions: Sequence[WorkflowDefinition]) -> None:
        self.dimension = dimension
        self.places = places
        # The current definitions first: their option order and labels win over older versions'.
        self.definitions = list(definitions) + [f.definition for f in facts]
        self.units: dict[int, tuple[str, str]] = {}
        self.names: dict[str, str] = {}
        if dimension.kind in ("building", "unit"):
            self.units = _units(session, {f.unit_id for f in facts if f.unit_id is not None})
        if dimension.kind == "field" and dimension.field:
            name = dimension.field
            people = [f.values.get(name) for f in facts
                      if (spec := f.definition.fields.get(name)) is not None and spec.type == "user"]
            self.names = display_names(session, people)

    def fixed(self) -> list[Label]:
        """The rows shown even without events: each estate, every enum option, 是 and 否, 合计."""
        kind = self.dimension.kind
        if kind == "total":
            return [Label(TOTAL)]
        if kind == "estate":
            return [Label(p.name) for p in self.places]
        if kind == "field" and self.dimension.field:
            for definition in self.definitions:
                spec = definition.fields.get(self.dimension.field)
                if spec is None or spec.personal:
                    continue
                if spec.type == "enum":
                    return [Label(label, (0, i)) for i, label in enumerate(spec.options.values())]
                if spec.type == "boolean":
                    return [Label("是", (0, 0)), Label("否", (0, 1))]
                return []
        return []

    def of(self, occurrence: Occurrence) -> Label | None:
        """The row of one event (None: no row, e.g. a `transition` table's non-firing events)."""
        fact = occurrence.fact
        kind = self.dimension.kind
        if kind == "total":
            return Label(TOTAL)
        if kind == "estate":
            return Label(fact.place.name)
        if kind == "workflow":
            return Label(fact.definition.title)
        if kind == "state":
            spec = fact.definition.states.get(fact.state)
            return Label(spec.label if spec else fact.state, (0, _index(fact.definition.states, fact.state)))
        if kind == "transition":
            return self._transition(fact, occurrence.transition)
        if kind == "department":
            return self._department(fact)
        if kind in ("building", "unit"):
            place = self.units.get(fact.unit_id) if fact.unit_id is not None else None
            if place is None:
                return Label(NO_BUILDING if kind == "building" else NO_UNIT, _LAST)
            text = building_label(place[0]) if kind == "building" else place[1]
            return Label(text, (0, _leading_number(text)))  # 2栋 before 10栋
        return self._field(fact)

    def _transition(self, fact: Fact, name: str | None) -> Label | None:
        if name is None:
            return None
        for index, transition in enumerate(fact.definition.transitions):
            if transition.name == name:
                return Label(transition.label, (0, index))
        return Label(name)

    def _department(self, fact: Fact) -> Label:
        value = fact.department
        if value is None:
            return Label(NO_DEPARTMENT, _LAST)
        for definition in [fact.definition, *self.definitions]:
            name = definition.access.department_field
            spec = definition.fields.get(name) if name else None
            if spec is not None and value in spec.options:
                return Label(spec.options[value], (0, _index(spec.options, value)))
        return Label(value)

    def _field(self, fact: Fact) -> Label:
        name = self.dimension.field or ""
        spec = fact.definition.fields.get(name)
        raw = fact.values.get(name)
        if spec is not None and (spec.personal or spec.type == "phone"):
            return Label(PERSONAL, _LAST)
        if spec is None or raw is None or raw == "":
            return Label(MISSING, _LAST)
        if spec.type == "enum":
            return Label(str(spec.options.get(raw, raw)), (0, _index(spec.options, raw)))
        if spec.type == "boolean":
            return Label("是" if raw else "否", (0, 0 if raw else 1))
        if spec.type == "user":
            return Label(self.names.get(str(raw), UNKNOWN_PERSON))
        return Label(_text(raw, fact))


def _text(raw: Any, fact: Fact) -> str:
    if isinstance(raw, datetime):
        return raw.astimezone(fact.place.tz).date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw)


def _units(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    """Unit id → (its building's name, its number)."""
    found: dict[int, tuple[str, str]] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), 500):
        rows = session.execute(
            select(units.c.id, units.c.number, buildings.c.name)
            .join(buildings, buildings.c.id == units.c.building_id)
            .where(units.c.id.in_(ordered[start:start + 500])))
        found.update({int(r.id): (str(r.name), str(r.number)) for r in rows})
    return found
