"""Whole-item limits (`item_sla`), reception time (`since: received`), parameters and named calendars at run time.

One small workflow (written into a temporary definitions folder) exercises each: its item_deadlines
rows, the item's time columns, and what `tick` does with them.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.access.actor import Actor, load_actor
from engine.clock import FixedClock
from engine.language.loader import Loader
from engine.runtime.items import ItemView, create, fire
from engine.runtime.registry import publish_folder
from engine.runtime.tick import tick
from engine.runtime.timers import Calendars
from engine.store.db import transaction
from engine.store.models import Base, Estate, User, UserEstate, UserRole
from engine.views.item import item_page

RUNTIME = Path(__file__).resolve().parents[1] / "data" / "good" / "runtime"

WORKFLOW = """\
id: limited
title: 整单时限
calendar: desk
parameters:
  whole: {label: 整单时限, type: duration, value: 3h}
  threshold: {label: 金额上限, type: decimal, value: 100}
fields:
  amount: {type: decimal, label: 金额}
  big: {type: boolean, label: 大额}
item_sla:
  - {within: whole, warn: 50%, escalate_to: [boss]}
  - {within: 1h, since: received, until: [working], escalate_to: [boss]}
states:
  open: {label: 待处理, initial: true, sla: [{within: 30m, escalate_to: [boss]}]}
  working: {label: 处理中}
  waiting: {label: 等待, paused: true}
  done: {label: 完成, final: true}
transitions:
  - {name: start, from: open, to: working, roles: [clerk]}
  - {name: note, from: working, to: working, roles: [clerk]}
  - {name: wait, from: working, to: waiting, roles: [clerk]}
  - {name: back, from: waiting, to: working, roles: [clerk]}
  - {name: finish, from: working, to: done, roles: [clerk], set: {big: "amount > param('threshold')"}}
  - {name: split, from: open, to: working, roles: [clerk],
     actions: [{spawn: {workflow: limited, keep_reception: true}}]}
  - {name: hand_on, from: working, to: done, roles: [clerk], actions: [{spawn: {workflow: limited}}]}
"""
# Every day, 09:00-18:00: a Sunday counts (the office calendar of the folder would not).
DESK = "timezone: Asia/Shanghai\nworking_hours: ['09:00-18:00']\nweekend: []\n"
START = datetime.fromisoformat("2026-03-08T09:00:00+08:00")  # a Sunday


class Limits:
    """A database with `limited` published in estates demo and other (other: threshold 10)."""

    def __init__(self, db: Any, folder: Path) -> None:
        self.db = db
        self.clock = FixedClock(START)
        self.calendars = Calendars(folder)
        self.users: dict[str, int] = {}
        with transaction(db.factory) as session:
            session.add_all([Estate(id="demo", name="示范小区"), Estate(id="other", name="别的小区")])
            session.flush()
            for estate in ("demo", "other"):
                for role in ("clerk", "boss"):
                    user = User(username=f"{role}@{estate}", display_name=role)
                    session.add(user)
                    session.flush()
                    session.add_all([UserRole(user_id=user.id, estate_id=estate, role=role),
                                     UserEstate(user_id=user.id, estate_id=estate)])
                    self.users[f"{role}@{estate}"] = user.id
            publish_folder(session, folder, loader=Loader(folder), now=START)

    def actor(self, estate: str = "demo") -> Actor:
        with self.db.factory() as session:
            return load_actor(session, self.users[f"clerk@{estate}"])

    def create(self, estate: str = "demo", **data: Any) -> ItemView:
        with transaction(self.db.factory) as session:
            return create(session, workflow="limited", estate=estate, actor=self.actor(estate), data=data,
                          clock=self.clock, calendars=self.calendars)

    def fire(self, item: ItemView | int, name: str, data: Mapping[str, Any] | None = None,
             estate: str = "demo") -> ItemView:
        item_id = item if isinstance(item, int) else item.id
        with transaction(self.db.factory) as session:
            return fire(session, item_id, name, self.actor(estate), data, clock=self.clock, calendars=self.calendars)

    def later(self, **delta: int) -> None:
        self.clock.set(self.clock.now() + timedelta(**delta))

    def rows(self, item: ItemView | int) -> list[dict[str, Any]]:
        table = Base.metadata.tables["item_deadlines"]
        item_id = item if isinstance(item, int) else item.id
        stmt = select(table).where(table.c.item_id == item_id).order_by(table.c.id)
        with self.db.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(stmt)]

    def pending(self, item: ItemView | int) -> dict[tuple[int, str], tuple[str, datetime]]:
        """(rule_index, kind) → (state, due_at) of the pending rows."""
        return {(r["rule_index"], r["kind"]): (r["state"], r["due_at"]) for r in self.rows(item)
                if r["status"] == "pending"}

    def item(self, item: ItemView | int) -> dict[str, Any]:
        table = Base.metadata.tables["items"]
        item_id = item if isinstance(item, int) else item.id
        with self.db.engine.connect() as connection:
            return dict(connection.execute(select(table).where(table.c.id == item_id)).one()._mapping)


@pytest.fixture
def limits(db: Any, tmp_path: Path) -> Limits:
    folder = tmp_path / "workflows"
    (folder / "calendars").mkdir(parents=True)
    (folder / "estates" / "other").mkdir(parents=True)
    shutil.copy(RUNTIME / "roles.yaml", folder / "roles.yaml")
    shutil.copy(RUNTIME / "calendar.yaml", folder / "calendar.yaml")
    (folder / "limited.yaml").write_text(WORKFLOW, encoding="utf-8")
    (folder / "calendars" / "desk.yaml").write_text(DESK, encoding="utf-8")
    (folder / "estates" / "other" / "limited.yaml").write_text("parameters: {threshold: 10}\n", encoding="utf-8")
    return Limits(db, folder)


def at(**delta: int) -> datetime:
    return START + timedelta(**delta)


def test_whole_item_rows_are_armed_once_at_creation_with_negative_rule_indexes(limits: Limits) -> None:
    item = limits.create()
    assert limits.pending(item) == {
        (0, "escalate"): ("open", at(minutes=30)),
        (-1, "escalate"): ("open", at(hours=3)),            # `within: whole`, the parameter's 3h
        (-1, "warn"): ("open", at(minutes=90)),
        (-2, "escalate"): ("open", at(hours=1)),
    }
    assert limits.item(item)["deadline_at"] == at(minutes=30)


def test_leaving_a_state_carries_the_whole_item_rows_and_until_stops_them(limits: Limits) -> None:
    item = limits.create()
    limits.later(minutes=10)
    limits.fire(item, "start")
    # open's own limit is cancelled; the whole-item rows follow into `working` with their due times kept;
    # rule -2 (`until: [working]`) stopped there.
    assert limits.pending(item) == {(-1, "escalate"): ("working", at(hours=3)),
                                    (-1, "warn"): ("working", at(minutes=90))}
    assert limits.item(item)["deadline_at"] == at(hours=3)
    limits.later(minutes=10)
    limits.fire(item, "note")                               # a self-transition does not re-arm them
    assert limits.pending(item) == {(-1, "escalate"): ("working", at(hours=3)),
                                    (-1, "warn"): ("working", at(minutes=90))}


def test_the_item_page_lists_the_whole_item_limits_beside_the_states_own(limits: Limits) -> None:
    item = limits.create()

    def shown() -> list[tuple[bool, datetime, tuple[str, ...]]]:
        with limits.db.factory() as session:
            page = item_page(session, item.id, limits.actor(), now=limits.clock.now())
        return [(limit.whole, limit.due_at, limit.roles) for limit in page.limits]

    assert shown() == [(False, at(minutes=30), ("主管",)), (True, at(hours=1), ("主管",)),
                       (True, at(hours=3), ("主管",))]        # warnings are not limits of their own
    limits.later(minutes=10)
    limits.fire(item, "start")
    assert shown() == [(True, at(hours=3), ("主管",))]       # working has no limit; the whole item's runs on


def test_a_paused_state_pauses_the_whole_item_limit(limits: Limits) -> None:
    item = limits.create()
    limits.fire(item, "start")
    limits.later(hours=1)
    limits.fire(item, "wait")
    limits.later(hours=2)
    assert tick(limits.db.factory, limits.clock, calendars=limits.calendars).handled == 0  # suspended meanwhile
    limits.fire(item, "back")
    # Two hours on hold: due two hours later (working time of the desk calendar, which this is).
    assert limits.pending(item)[(-1, "escalate")] == ("working", at(hours=5))
    assert limits.item(item)["deadline_at"] == at(hours=5)


def test_a_final_state_cancels_the_whole_item_rows(limits: Limits) -> None:
    item = limits.create(amount=50)
    limits.fire(item, "start")
    limits.fire(item, "finish")
    assert limits.pending(item) == {}
    assert {r["status"] for r in limits.rows(item)} == {"cancelled"}


def test_tick_escalates_a_whole_item_limit_as_such(limits: Limits) -> None:
    item = limits.create()
    limits.fire(item, "start")
    limits.clock.set(at(hours=3))
    report = tick(limits.db.factory, limits.clock, calendars=limits.calendars)
    assert (report.escalated, report.warned) == (1, 1)
    assert limits.item(item)["overdue"] is True
    table = Base.metadata.tables["item_history"]
    with limits.db.engine.connect() as connection:
        comments = [r.comment for r in connection.execute(
            select(table).where(table.c.item_id == item.id, table.c.event == "escalated"))]
    assert comments == ["【超时】整单时限 LIMITED-000001 已超过时限（整单时限，3小时）"]


def newest_item(limits: Limits) -> int:
    table = Base.metadata.tables["items"]
    with limits.db.engine.connect() as connection:
        return int(connection.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar_one())


def creation_changes(limits: Limits, item_id: int) -> dict[str, Any]:
    table = Base.metadata.tables["item_history"]
    with limits.db.engine.connect() as connection:
        return dict(connection.execute(select(table.c.changes).where(table.c.item_id == item_id)
                                       .order_by(table.c.id).limit(1)).scalar_one())


def test_a_spawn_keeping_the_reception_counts_since_received_from_the_call(limits: Limits) -> None:
    first = limits.create()
    limits.later(minutes=40)
    limits.fire(first, "split")                                        # keep_reception: the same call
    child = newest_item(limits)
    rows = limits.pending(child)
    assert rows[(-2, "escalate")] == ("open", at(hours=1))              # the parent's reception + 1h
    assert rows[(-1, "escalate")] == ("open", at(minutes=40, hours=3))  # `created`: the spawn itself
    assert creation_changes(limits, child)["_received"] == [None, "2026-03-08T09:00:00+08:00"]
    limits.later(minutes=5)
    limits.fire(child, "split")                                         # a chain: still the first call
    grandchild = newest_item(limits)
    assert limits.pending(grandchild)[(-2, "escalate")] == ("open", at(hours=1))


def test_any_other_spawn_is_received_when_it_is_registered(limits: Limits) -> None:
    first = limits.create()
    limits.fire(first, "start")
    limits.later(hours=2)
    limits.fire(first, "hand_on")                                      # no keep_reception: a new matter
    child = newest_item(limits)
    assert limits.pending(child)[(-2, "escalate")] == ("open", at(hours=3))
    assert "_received" not in creation_changes(limits, child)



def test_parameters_take_each_estates_value(limits: Limits) -> None:
    here = limits.create(amount=50)
    limits.fire(here, "start")
    there = limits.create(estate="other", amount=50)
    limits.fire(there, "start", estate="other")
    assert limits.fire(here, "finish").values["big"] is False          # 50 > 100: the default
    assert limits.fire(there, "finish", estate="other").values["big"] is True  # 50 > 10: other's overlay


def test_a_workflow_calendar_counts_working_time_by_its_own_file(limits: Limits) -> None:
    calendar = limits.calendars.for_workflow("demo", "desk")
    assert calendar.is_working_day(START.date())                       # the desk works Sundays
    assert not limits.calendars.for_estate("demo").is_working_day(START.date())
    assert limits.calendars.for_workflow("demo", "missing") == limits.calendars.for_estate("demo")
    assert limits.calendars.for_workflow("demo", None) == limits.calendars.for_estate("demo")
