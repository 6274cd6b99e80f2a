"""Moving running items to the newest version of their workflow (`estateflow migrate`, the migrate page).

    plan_migration(session, workflow_id, estate, ...) -> MigrationPlan      what would move (writes nothing)
    apply_migration(factory, plan, actor=, ...)      -> MigrationReport    moves a plan's items, in batches
    run_migration(factory, workflow_id, estate, ...) -> MigrationReport    both

The newest version is the one new items get (REGISTRY.current). Every open item of the workflow
in the estate that is on another version moves: open means not in a final state of its own
version; its state maps by name when the new version has it, else by the explicit `mapping`
(old state → new state), else it is unmapped, and one unmapped state refuses the whole run
before anything is written (UnmappedStates: each state with its items' numbers).

Moving an item is an event, not a transition: its state is renamed, not entered, so it keeps
`state_entered_at`; its definition and state change in one version-checked UPDATE (WHERE id and
version = the version the plan read), so an item fired meanwhile is skipped and reported, never
overwritten, and its version goes up by one, so a form opened on the old definition is refused as
a conflict (409). Its pending deadlines are replanned by the new version
(engine/runtime/migration_limits.py) and one history row (kind "event", event "migrated") records
who, from which version, to which, and the map given. The items move in batches, one transaction
each: a run killed halfway has moved whole batches, and running it again moves the rest (the items
already moved are on the target version, so no longer candidates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from engine.access.actor import Actor
from engine.clock import Clock, SystemClock
from engine.errors import ItemNotFound, UnmappedStates
from engine.language import fields
from engine.language.definition import WorkflowDefinition
from engine.runtime import migration_limits, timers
from engine.runtime.registry import REGISTRY, Registry
from engine.store import queries
from engine.store.db import transaction

__all__ = ["EVENT", "DeadlineChange", "ItemMove", "MigrationPlan", "MigrationReport", "apply_migration",
           "plan_migration", "run_migration"]

EVENT = "migrated"
"""The history event of a moved item."""
_KINDS = {"escalate": "超时升级", "warn": "时限预警", "timer": "定时操作"}
_SYSTEM_CLOCK = SystemClock()


class DeadlineChange(NamedTuple):
    """A deadline the move changes: (label, old due, new due); None on the side that has none."""

    label: str
    old_due: datetime | None
    new_due: datetime | None


@dataclass(frozen=True, slots=True)
class ItemMove:
    """One item the migration moves."""

    item_id: int
    number: str
    from_version: int
    old_state: str
    new_state: str
    missing_fields: tuple[str, ...] = ()
    """Labels of the fields the new version requires that the item has not filled in."""
    deadlines: tuple[DeadlineChange, ...] = ()
    seen: int = 0
    """The item's version when planned: the move is version-checked against it."""
    old_label: str = ""
    new_label: str = ""
    paused_from: str | None = None
    """The new name of the state the item's pause suspended (None: not paused)."""


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """What a migration would do: the target version and every item it moves, or the unmapped states."""

    workflow_id: str
    estate: str
    target_id: int
    target_version: int
    moves: tuple[ItemMove, ...]
    unmapped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """old state → numbers of the open items in it that have no state to go to."""
    mapping: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    """The unmapped states' labels in the items' own versions."""


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What a run did."""

    target_version: int
    moved: int
    skipped: tuple[tuple[str, str], ...]
    """(number, why) of the items left where they were: changed meanwhile."""
    batches: int = 0


def _target(state: str, new: WorkflowDefinition, mapping: Mapping[str, str]) -> str | None:
    if state in new.states:
        return state
    mapped = mapping.get(state)
    return mapped if mapped in new.states else None


def _values(definition: WorkflowDefinition, data: Mapping[str, Any]) -> dict[str, Any]:
    """The item's values typed by the new version; a value its field no longer accepts is left out."""
    values: dict[str, Any] = {}
    for name, raw in data.items():
        try:
            values.update(fields.decode(definition.fields, {name: raw}))
        except (TypeError, ValueError):
            continue
    return values


def _candidates(session: Session, registry: Registry, workflow_id: str, estate: str, target_id: int,
                from_version: int | None) -> list[tuple[Row[Any], WorkflowDefinition]]:
    """The open items on other versions, each with its own compiled version; closed ones stay in the database
    (finished items are most of a store: the final states of each version are left out in SQL)."""
    items, versions = queries.items, queries.versions
    where = [items.c.workflow_id == workflow_id, items.c.estate_id == estate, items.c.definition_id != target_id]
    if from_version is not None:
        where.append(items.c.definition_version == from_version)
    used = session.execute(select(versions.c.id, versions.c.content_hash).where(
        versions.c.id.in_(select(items.c.definition_id).where(*where).distinct()))).all()
    compiled = {v.id: registry.compiled(session, v.id, v.content_hash) for v in used}
    if not compiled:
        return []
    open_terms = [and_(items.c.definition_id == vid,
                       items.c.state.not_in([name for name, spec in d.states.items() if spec.final]))
                  for vid, d in compiled.items()]
    stmt = (select(items.c.id, items.c.number, items.c.state, items.c.version, items.c.definition_id,
                   items.c.definition_version, items.c.paused_from)
            .where(*where, or_(*open_terms)).order_by(items.c.id))
    return [(row, compiled[row.definition_id]) for row in session.execute(stmt)]


def plan_migration(session: Session, workflow_id: str, estate: str, *, from_version: int | None = None,
                   mapping: Mapping[str, str] | None = None, registry: Registry = REGISTRY,
                   calendars: timers.Calendars = timers.CALENDARS, clock: Clock | None = None,
                   with_deadlines: bool = True) -> MigrationPlan:
    """The open items of (workflow, estate) not on the newest version, each with where it goes.

    `with_deadlines`: also work out the deadlines that change (each item's replanning is run in a
    savepoint and rolled back, so the dry run shows what applying does). Writes nothing.

    Raises:
        ItemNotFound: the workflow has no published version for the estate.
    """
    mapping = dict(mapping or {})
    current = registry.current(session, workflow_id, estate)
    if current is None:
        raise ItemNotFound(f"没有已发布的流程: {workflow_id}", workflow=workflow_id)
    new = current.definition
    now = (clock or _SYSTEM_CLOCK).now()
    moves: list[ItemMove] = []
    unmapped: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for row, old in _candidates(session, registry, workflow_id, estate, current.id, from_version):
        state = _target(row.state, new, mapping)
        held = _target(row.paused_from, new, mapping) if row.paused_from else None
        for name, found in ((row.state, state), (row.paused_from, held)):
            if name and found is None:
                unmapped.setdefault(name, []).append(row.number)
                labels.setdefault(name, old.states[name].label if name in old.states else name)
        if state is None or (row.paused_from and held is None):
            continue
        moves.append(_move(session, row, old, new, state, held, now, calendars, with_deadlines))
    return MigrationPlan(workflow_id, estate, current.id, current.version, tuple(moves),
                         {s: tuple(n) for s, n in sorted(unmapped.items())}, mapping, labels)


def _move(session: Session, row: Row[Any], old: WorkflowDefinition, new: WorkflowDefinition, state: str,
          held: str | None, now: datetime, calendars: timers.Calendars, with_deadlines: bool) -> ItemMove:
    db = session.connection()
    item = queries.item_row(db, row.id)
    assert item is not None
    values = _values(new, item.data)
    missing = tuple(f.label for n, f in new.fields.items() if f.required and not fields.is_filled(values.get(n)))
    changes: tuple[DeadlineChange, ...] = ()
    if with_deadlines:
        with session.begin_nested() as savepoint:
            before = migration_limits.pending_rows(db, row.id, row.state, row.paused_from or "")
            _replan(session, item, old, new, state, held, values, now, calendars)
            after = migration_limits.pending_rows(db, row.id, state, held or "")
            savepoint.rollback()
        changes = _changed(old, new, before, after)
    return ItemMove(row.id, row.number, row.definition_version, row.state, state, missing, changes, row.version,
                    old.states[row.state].label if row.state in old.states else row.state,
                    new.states[state].label, held)


def _changed(old: WorkflowDefinition, new: WorkflowDefinition, before: list[Row[Any]],
             after: list[Row[Any]]) -> tuple[DeadlineChange, ...]:
    """The deadlines that differ, paired by kind and rule (whole-item rows are carried unchanged)."""
    def keyed(rows: list[Row[Any]], definition: WorkflowDefinition) -> dict[tuple[str, int], tuple[datetime, str]]:
        found: dict[tuple[str, int], tuple[datetime, str]] = {}
        for r in rows:
            spec = definition.states.get(r.state)
            rule = timers.rule_of(definition, r)
            limit = timers.limit_text(getattr(rule, "within", None), bool(getattr(rule, "working", False)),
                                      getattr(rule, "by", None)) if r.kind != "timer" else ""
            where = spec.label if spec is not None else r.state
            label = f"{where}·{_KINDS.get(r.kind, r.kind)} {r.rule_index + 1}" + (f"（{limit}）" if limit else "")
            found.setdefault((r.kind, r.rule_index), (r.due_at, label))
        return found

    was, now = keyed(before, old), keyed(after, new)
    changed = []
    for key in sorted({*was, *now}, key=lambda k: (k[1], k[0])):
        old_due, new_due = was.get(key, (None, ""))[0], now.get(key, (None, ""))[0]
        if old_due != new_due:
            changed.append(DeadlineChange(now.get(key, was.get(key, (None, "")))[1], old_due, new_due))
    return tuple(changed)


def _replan(session: Session, item: Row[Any], old: WorkflowDefinition, new: WorkflowDefinition, state: str,
            held: str | None, values: Mapping[str, Any], now: datetime, calendars: timers.Calendars) -> None:
    calendar = calendars.for_workflow(item.estate_id, new.calendar)
    migration_limits.replan(session.connection(), item, old, new, state, held, values, now, calendar,
                            ZoneInfo(item.timezone))


def apply_migration(factory: sessionmaker[Session], plan: MigrationPlan, *, actor: Actor, batch: int = 100,
                    registry: Registry = REGISTRY, calendars: timers.Calendars = timers.CALENDARS,
                    clock: Clock | None = None, on_batch: Callable[[int, int], None] | None = None) -> MigrationReport:
    """Move the plan's items, `batch` per transaction; an item changed since the plan is skipped.

    `on_batch(moved, skipped)` is called after each batch commits (the command line's progress).

    Raises:
        UnmappedStates: the plan has unmapped states (then nothing is written).
    """
    if plan.unmapped:
        raise UnmappedStates(dict(plan.unmapped))
    moved, skipped, batches = 0, [], 0
    for start in range(0, len(plan.moves), max(1, batch)):
        with transaction(factory) as session:
            new = registry.compiled(session, plan.target_id)
            now = (clock or _SYSTEM_CLOCK).now()
            for move in plan.moves[start:start + batch]:
                if _apply_one(session, plan, move, new, actor, now, registry, calendars):
                    moved += 1
                else:
                    skipped.append((move.number, "已被他人更新，未迁移"))
        batches += 1
        if on_batch is not None:
            on_batch(moved, len(skipped))
    return MigrationReport(plan.target_version, moved, tuple(skipped), batches)


def _update(db: Connection, plan: MigrationPlan, move: ItemMove, now: datetime) -> bool:
    """The version-checked UPDATE: False when the item changed since the plan read it."""
    items = queries.items
    result = db.execute(
        update(items).where(items.c.id == move.item_id, items.c.version == move.seen)
        .values(definition_id=plan.target_id, definition_version=plan.target_version, state=move.new_state,
                version=move.seen + 1, updated_at=now))
    return result.rowcount == 1


def _apply_one(session: Session, plan: MigrationPlan, move: ItemMove, new: WorkflowDefinition, actor: Actor,
               now: datetime, registry: Registry, calendars: timers.Calendars) -> bool:
    db = session.connection()
    item = queries.item_row(db, move.item_id)
    if item is None or item.version != move.seen or not _update(db, plan, move, now):
        return False
    old = registry.compiled(session, item.definition_id, item.content_hash)
    _replan(session, item, old, new, move.new_state, move.paused_from, _values(new, item.data), now, calendars)
    queries.add_history(db, {
        "item_id": item.id, "kind": "event", "transition": None, "event": EVENT,
        "from_state": item.state, "to_state": move.new_state, "actor_id": actor.user_id, "actor_name": actor.name,
        "at": now, "comment": None, "branch": None,
        "changes": {"from_version": item.definition_version, "to_version": plan.target_version,
                    "map": dict(plan.mapping), "from_label": move.old_label, "to_label": move.new_label},
    })
    return True


def run_migration(factory: sessionmaker[Session], workflow_id: str, estate: str, *, actor: Actor,
                  from_version: int | None = None, mapping: Mapping[str, str] | None = None, batch: int = 100,
                  registry: Registry = REGISTRY, calendars: timers.Calendars = timers.CALENDARS,
                  clock: Clock | None = None) -> MigrationReport:
    """Plan (reading only) and move every open item of the old version(s); safe to run again.

    Raises:
        UnmappedStates: a state has no target (before anything is written).
        ItemNotFound: the workflow has no published version for the estate.
    """
    with factory() as session:
        plan = plan_migration(session, workflow_id, estate, from_version=from_version, mapping=mapping,
                              registry=registry, calendars=calendars, clock=clock, with_deadlines=False)
    return apply_migration(factory, plan, actor=actor, batch=batch, registry=registry, calendars=calendars,
                           clock=clock)
