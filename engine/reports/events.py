"""What a report reads from the store, and the events a measure finds in it.

    load(session, actor, ...)              -> list[Fact]   the items a period needs, decoded, visible ones only
    occurrences(fact, event, start, end, now) -> list[Occurrence]   one item's events in [start, end)

Only the items a period can touch are read, through the indexes on (workflow_id, estate_id,
created_at) and (workflow_id, estate_id, state_entered_at): created before the period's end, and
created in it, or in a state entered in it, or not in a final state. A final state has no way
out, so for an item in one `state_entered_at` is when it closed; an item that closed before the
period can have no event in it. The cost follows the items of the period, not the whole store.
History rows are read only when a measure needs them (entered, fired, time between states),
the escalation deadlines only for `missed` and `on_time`; both by item id, in chunks.

The visibility rule is the lists' own (engine/views/listing.py `visible`): a user counts only
the items they could open.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.errors import EngineError
from engine.language import fields as fieldtypes
from engine.language.definition import Expression, WorkflowDefinition
from engine.reports.definition import Event
from engine.runtime import item_limits
from engine.runtime.registry import Registry
from engine.store.models import Item, ItemDeadline, ItemHistory, WorkflowVersion
from engine.views import listing

__all__ = ["Deadline", "Fact", "Occurrence", "Place", "Step", "holds", "load", "occurrences"]

items = cast(Table, Item.__table__)
versions = cast(Table, WorkflowVersion.__table__)
history = cast(Table, ItemHistory.__table__)
deadlines = cast(Table, ItemDeadline.__table__)

CHUNK = 500
"""Item ids per IN list when reading history and deadlines (well under every backend's limit)."""


@dataclass(frozen=True, slots=True)
class Place:
    """An estate counted: its id, name and time zone."""

    id: str
    name: str
    timezone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class Step:
    """One transition of an item's history (creation included: `transition` None)."""

    at: datetime
    transition: str | None
    from_state: str | None
    to_state: str | None


@dataclass(frozen=True, slots=True)
class Deadline:
    """One escalation row of item_deadlines, as stored (never recomputed)."""

    state: str
    whole_item: bool
    """An `item_sla` limit (it follows the item from state to state)."""
    due_at: datetime
    status: str
    done_at: datetime | None

    def missed(self, now: datetime, paused: bool) -> bool | None:
        """True: fell due unmet; False: met (left the state in time); None: not decided yet.

        'done' means tick fired it (the deadline passed unmet); 'cancelled' means the item left
        the state (met when that was in time); a pending row already due is missed, tick has
        simply not run yet, unless the item is paused (its limits are suspended).
        """
        if self.status == "done":
            return True
        if self.status == "cancelled":
            return self.done_at is not None and self.done_at > self.due_at
        if self.due_at <= now and not paused:
            return True
        return None


@dataclass(slots=True)
class Fact:
    """One item as a report reads it: its columns, typed values, history and deadlines."""

    id: int
    place: Place
    workflow_id: str
    definition: WorkflowDefinition
    values: dict[str, Any]
    state: str
    created_at: datetime
    state_entered_at: datetime
    unit_id: int | None
    department: str | None
    paused: bool
    steps: list[Step] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)

    @property
    def final(self) -> bool:
        """In a final state now (so `state_entered_at` is when it closed)."""
        spec = self.definition.states.get(self.state)
        return bool(spec and spec.final)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One event of one item: when it happened, the transition fired, the time measured."""

    fact: Fact
    at: datetime | None = None
    transition: str | None = None
    elapsed: timedelta | None = None
    """A duration measure's time for this item (calendar or working time)."""


def holds(condition: Expression | None, fact: Fact, now: datetime) -> bool:
    """Whether `condition` holds on the item's current values (no condition: it does)."""
    if condition is None:
        return True
    try:
        return condition.evaluate(fact.values, now.astimezone(fact.place.tz)) is True
    except (EngineError, TypeError, ValueError, ArithmeticError, KeyError):
        # A value of an older version the condition cannot read: the item is not counted.
        return False


def _open_states(known: Iterable[WorkflowDefinition]) -> list[str]:
    """Every state that is not final in some version: an item in one may be open, whatever its age."""
    return sorted({name for definition in known for name, spec in definition.states.items() if not spec.final})


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for index in range(0, len(ids), CHUNK):
        yield list(ids[index:index + CHUNK])


def _candidates(session: Session, workflows: Sequence[str], places: Sequence[Place],
                spans: Mapping[str, tuple[datetime, datetime]], open_states: Sequence[str]) -> dict[int, Place]:
    """The ids of the items that may have an event in the period, each read along one index.

    Three plain reads (no OR, no visibility term, so that no planner walks an estate's whole
    history): created in the period, along (workflow_id, estate_id, created_at); in a state
    entered since its start (closed in or after it), along (workflow_id, estate_id,
    state_entered_at); in a state that is not final (open, whatever its age), along
    (workflow_id, estate_id, state). The rest of each condition is checked here.
    """
    chosen = items.c.workflow_id.in_(list(workflows))
    found: dict[int, Place] = {}
    for place in places:
        start, end = spans[place.id]
        here = items.c.estate_id == place.id
        for item_id in session.scalars(select(items.c.id).where(chosen, here, items.c.created_at >= start,
                                                                 items.c.created_at < end)):
            found[item_id] = place
        for row in session.execute(select(items.c.id, items.c.created_at)
                                   .where(chosen, here, items.c.state_entered_at >= start)):
            if row.created_at < end:
                found[row.id] = place
        if open_states:
            for row in session.execute(select(items.c.id, items.c.created_at)
                                       .where(chosen, here, items.c.state.in_(list(open_states)))):
                if row.created_at < end:
                    found[row.id] = place
    return found


def load(session: Session, actor: Actor, *, workflows: Sequence[str], places: Sequence[Place],
         spans: Mapping[str, tuple[datetime, datetime]], registry: Registry, with_history: bool,
         with_deadlines: bool) -> list[Fact]:
    """The visible items of `workflows` in `places` that may have an event in their estate's span.

    `spans`: estate id → the UTC instants [start, end) of the whole period in that estate.
    """
    known = listing.versions_of(session, registry)
    open_states = _open_states(v.definition for v in known if v.definition.id in workflows)
    candidates = _candidates(session, workflows, places, spans, open_states)
    visible = listing.visible(actor, known)
    by_id: dict[int, Fact] = {}
    for chunk in _chunks(sorted(candidates)):
        # By primary key, with the lists' visibility rule: a user counts only what they could open.
        rows = session.execute(
            select(items.c.id, items.c.workflow_id, items.c.definition_id, items.c.state, items.c.data,
                   items.c.created_at, items.c.state_entered_at, items.c.unit_id, items.c.department,
                   items.c.paused_since, versions.c.content_hash)
            .join(versions, versions.c.id == items.c.definition_id)
            .where(items.c.id.in_(chunk), visible))
        for row in rows:
            definition = registry.compiled(session, row.definition_id, row.content_hash)
            by_id[row.id] = Fact(
                id=row.id, place=candidates[row.id], workflow_id=row.workflow_id, definition=definition,
                values=fieldtypes.decode(definition.fields, row.data or {}), state=row.state,
                created_at=row.created_at, state_entered_at=row.state_entered_at, unit_id=row.unit_id,
                department=row.department, paused=row.paused_since is not None)
    ids = sorted(by_id)
    if with_history:
        for chunk in _chunks(ids):
            rows = session.execute(
                select(history.c.item_id, history.c.at, history.c.transition, history.c.from_state,
                       history.c.to_state)
                .where(history.c.item_id.in_(chunk), history.c.kind == "transition")
                .order_by(history.c.item_id, history.c.at, history.c.id))
            for r in rows:
                by_id[r.item_id].steps.append(Step(r.at, r.transition, r.from_state, r.to_state))
    if with_deadlines:
        for chunk in _chunks(ids):
            rows = session.execute(
                select(deadlines.c.item_id, deadlines.c.state, deadlines.c.rule_index, deadlines.c.due_at,
                       deadlines.c.status, deadlines.c.done_at)
                .where(deadlines.c.item_id.in_(chunk), deadlines.c.kind == "escalate")
                .order_by(deadlines.c.item_id, deadlines.c.due_at, deadlines.c.id))
            for r in rows:
                whole = item_limits.index_of(r.rule_index) is not None
                by_id[r.item_id].deadlines.append(Deadline(r.state, whole, r.due_at, r.status, r.done_at))
    return [by_id[i] for i in ids]


def _inside(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment < end


def entries(fact: Fact, states: Iterable[str]) -> list[datetime]:
    """When the item entered one of `states` (creation enters the initial state), oldest first."""
    wanted = set(states)
    return [s.at for s in fact.steps if s.to_state in wanted and s.to_state != s.from_state]


def closed_at(fact: Fact, states: Sequence[str] = ()) -> datetime | None:
    """When the item entered its final state (None: not closed, or closed in another than `states`)."""
    if not fact.final or (states and fact.state not in states):
        return None
    return fact.state_entered_at


def is_open(fact: Fact, end: datetime) -> bool:
    """Not in a final state at `end`: created before it, and not final now or closed at or after it."""
    return fact.created_at < end and (not fact.final or fact.state_entered_at >= end)


def occurrences(fact: Fact, event: Event, start: datetime, end: datetime, now: datetime) -> list[Occurrence]:
    """The item's events of kind `event` in [start, end): at most one per item, one per firing for `fired`."""
    kind = event.kind
    if kind == "created":
        return [Occurrence(fact, fact.created_at)] if _inside(fact.created_at, start, end) else []
    if kind == "closed":
        moment = closed_at(fact, event.states)
        return [Occurrence(fact, moment)] if _inside(moment, start, end) else []
    if kind == "open":
        return [Occurrence(fact, None)] if is_open(fact, end) else []
    if kind == "missed":
        due = [d.due_at for d in fact.deadlines
               if _inside(d.due_at, start, end) and d.due_at <= now and d.missed(now, fact.paused)]
        return [Occurrence(fact, due[0])] if due else []
    if kind == "entered":
        moments = [m for m in entries(fact, event.states) if _inside(m, start, end)]
        return [Occurrence(fact, moments[0])] if moments else []
    wanted = set(event.transitions)
    return [Occurrence(fact, s.at, s.transition) for s in fact.steps
            if s.transition is not None and s.transition in wanted and _inside(s.at, start, end)]
