"""A database for the report computation tests: two estates, units, staff, the `case` workflow.

Estate `demo` (示范小区) has buildings 3栋 (unit 3-1-502) and 5栋 (unit 5-2-301); `other`
(别的小区) one unit. Users: clerk, boss, admin and two fixers (executors of engineering) in
`demo`, a boss in `other`. Items are made with the real runtime at the moments the tests
name (a FixedClock set before each step), so history and deadline rows are the engine's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.access.actor import Actor, load_actor
from engine.clock import FixedClock
from engine.language.expr import compile_expression
from engine.reports import compute as computing
from engine.reports.definition import (
    Dimension,
    Duration,
    Event,
    Measure,
    ReportDefinition,
    Table,
    Target,
)
from engine.reports.result import Period, ReportResult, TableResult
from engine.runtime.items import ItemView, create, fire
from engine.runtime.registry import REGISTRY, publish_folder
from engine.runtime.tick import tick
from engine.runtime.timers import Calendars
from engine.store.db import transaction
from engine.store.models import Building, Estate, Unit, User, UserEstate, UserRole
from tests._loaders import loader_of

FOLDER = Path(__file__).resolve().parent / "data" / "compute"
PEOPLE: dict[str, tuple[str, str, str]] = {
    # username: (estate, role, display name)
    "clerk": ("demo", "clerk", "前台小王"),
    "boss": ("demo", "boss", "主管老李"),
    "admin": ("demo", "admin", "管理员"),
    "fixer": ("demo", "fixer", "维修工张师傅"),
    "fixer2": ("demo", "fixer", "维修工赵师傅"),
    "boss_other": ("other", "boss", "别处主管"),
}


def local(text: str) -> datetime:
    """A Shanghai wall-clock moment: local('2026-11-23 09:00')."""
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00")


class World:
    """The test database and the runtime calls the tests make, each at a given moment."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.clock = FixedClock(local("2026-11-01 09:00"))
        self.calendars = Calendars(FOLDER)
        self.ids: dict[str, int] = {}
        with transaction(db.factory) as session:
            session.add_all([Estate(id="demo", name="示范小区"), Estate(id="other", name="别的小区")])
            session.flush()
            for estate, building, number in (("demo", "3栋", "3-1-502"), ("demo", "5栋", "5-2-301"),
                                             ("other", "1栋", "1-1-101")):
                block = Building(estate_id=estate, name=building)
                session.add(block)
                session.flush()
                session.add(Unit(estate_id=estate, building_id=block.id, number=number, tags=[]))
            for username, (estate, role, name) in PEOPLE.items():
                user = User(username=username, display_name=name)
                session.add(user)
                session.flush()
                session.add_all([UserEstate(user_id=user.id, estate_id=estate),
                                 UserRole(user_id=user.id, estate_id=estate, role=role)])
                self.ids[username] = user.id
            publish_folder(session, FOLDER, loader=loader_of(FOLDER), now=self.clock.now())

    def actor(self, username: str) -> Actor:
        if username == "system":
            return Actor.system()
        with self.db.factory() as session:
            return load_actor(session, self.ids[username])

    def create(self, at: str, *, by: str = "clerk", estate: str = "demo", **data: Any) -> ItemView:
        """A case registered at the local moment `at`."""
        self.clock.set(local(at))
        with transaction(self.db.factory) as session:
            return create(session, workflow="case", estate=estate, actor=self.actor(by), data=data,
                          clock=self.clock, calendars=self.calendars)

    def fire(self, item: ItemView, name: str, at: str, *, by: str = "boss", **data: Any) -> ItemView:
        """Fire `name` on the item at the local moment `at`."""
        self.clock.set(local(at))
        with transaction(self.db.factory) as session:
            return fire(session, item.id, name, self.actor(by), data, clock=self.clock, calendars=self.calendars)

    def tick(self, at: str) -> None:
        """The worker's pass at `at`: deadlines due by then fire (escalations become 'done')."""
        self.clock.set(local(at))
        tick(self.db.factory, self.clock, calendars=self.calendars)

    def compute(self, report: ReportDefinition, period: Period, *, who: str = "boss",
                estates: Sequence[str] | None = None, now: str = "2026-12-01 10:00") -> ReportResult:
        with self.db.factory() as session:
            return computing.compute(session, self.actor(who), report, estates=estates, period=period,
                                     now=local(now), registry=REGISTRY, calendars=self.calendars)

    def behind(self, report: ReportDefinition, period: Period, key: str, *, who: str = "boss",
               estates: Sequence[str] | None = None, now: str = "2026-12-01 10:00") -> list[int]:
        with self.db.factory() as session:
            return computing.items_behind(session, self.actor(who), report, estates=estates, period=period,
                                          key=key, now=local(now), registry=REGISTRY)


# -- building reports by hand (the loader is helper A's; these are the compiled dataclasses) -------

def count(measure_id: str, label: str, event: str = "created", *, states: tuple[str, ...] = (),
          transitions: tuple[str, ...] = (), where: str | None = None) -> Measure:
    return Measure(measure_id, label, "count", Event(event, states, transitions),  # type: ignore[arg-type]
                   where=condition(where) if where else None)


def condition(source: str) -> Any:
    """A compiled condition over the `case` workflow's fields."""
    definition = loader_of(FOLDER).load(FOLDER / "case.yaml")
    return compile_expression(source, definition.fields, want="boolean")


def report(measures: Sequence[Measure], tables: Sequence[Table], **extra: Any) -> ReportDefinition:
    return ReportDefinition(id="test_report", title="测试报表", workflows=("case",), measures=tuple(measures),
                            tables=tuple(tables), **extra)


def table(title: str, by: Dimension, *measure_ids: str, **extra: Any) -> Table:
    return Table(title, by, tuple(measure_ids), **extra)


def grid(result: TableResult) -> dict[str, tuple[Any, ...]]:
    """Row label → the values of its cells."""
    return {row.label: tuple(cell.value for cell in row.cells) for row in result.rows}


__all__ = ["Decimal", "Dimension", "Duration", "Event", "Mapping", "Measure", "Target", "World", "count", "grid",
           "local", "report", "table"]
