"""The time limits of an item moved to a new version of its workflow (engine/runtime/item_migration.py).

    replan(db, item, old, new, state, paused_from, values, now, calendar, tz) -> time columns

The item keeps the moment it entered its state: its pending deadlines there are replaced by
those the new version plans for its new state, counted from `state_entered_at`, as if it had
entered the new state then. Pauses are honoured the way engine/runtime/timers.py honours them
when an item comes back from one: the rows are planned from the entry and then moved later by
each pause of this visit (`timers._resume`, the same code `move` runs, so working-time limits
move by working time and `at` timers keep their date). A suspended state (the item is paused
now) is replanned the same way and stays suspended; `move` resumes it when the item returns.

Escalations already done stay done: a row the old version already fired in this visit is
not planned again. Rows are matched by (kind, rule_index): a changed limit keeps its place in
the state's `sla` list, so the 48h escalation that fired is the same rule as the new 24h one,
and matching by due moment would re-arm exactly the rules whose limits changed. A rule
inserted before others shifts the indexes: then the fired row suppresses the rule now in its
place, which errs towards not notifying twice.

Whole-item limits (`item_sla`, engine/runtime/item_limits.py) were armed at creation and follow
the item from state to state: they are carried into the new state unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection

from engine.language.calendar import Calendar
from engine.language.definition import WorkflowDefinition
from engine.runtime import item_limits, timers
from engine.store import queries

__all__ = ["PARKED", "pending_rows", "replan"]

PARKED = "~migrating"
"""Where the whole-item rows wait while a state's own rows are replanned (no state id starts with ~):
`timers._resume` moves every pending row of a state, and the whole-item rows moved already."""

_deadlines, _history = queries.deadlines, queries.history


def pending_rows(db: Connection, item_id: int, *states: str) -> list[Row[Any]]:
    """The item's pending rows of `states` (its current state and the one a pause suspended)."""
    return [row for state in states if state for row in queries.pending_deadlines(db, item_id, state)]


def _done(db: Connection, item_id: int, state: str, since: datetime) -> set[tuple[str, int]]:
    """(kind, rule_index) of the rows of `state` fired since the item entered it."""
    stmt = select(_deadlines.c.kind, _deadlines.c.rule_index).where(
        _deadlines.c.item_id == item_id, _deadlines.c.state == state, _deadlines.c.status == "done",
        _deadlines.c.done_at >= since)
    return {(r.kind, r.rule_index) for r in db.execute(stmt)}


def _pauses(db: Connection, item_id: int, paused: Callable[[str | None], bool], since: datetime,
            until: datetime) -> list[tuple[datetime, datetime]]:
    """The pauses that began and ended in [since, until], read from the item's transitions."""
    stmt = (select(_history.c.from_state, _history.c.to_state, _history.c.at)
            .where(_history.c.item_id == item_id, _history.c.kind == "transition", _history.c.at >= since,
                   _history.c.at <= until)
            .order_by(_history.c.id))
    found, began = [], None
    for row in db.execute(stmt):
        if paused(row.to_state) and not paused(row.from_state):
            began = row.at
        elif began is not None and paused(row.from_state) and not paused(row.to_state):
            found.append((began, row.at))
            began = None
    return found


def _replan_state(db: Connection, item: Row[Any], new: WorkflowDefinition, source: str, dest: str,
                  entered: datetime, pauses: list[tuple[datetime, datetime]], values: Mapping[str, Any],
                  now: datetime, calendar: Calendar, tz: tzinfo) -> list[dict[str, Any]]:
    """Replace the own pending rows of `source` by those of `dest`; returns the rows planned."""
    item_limits.carry(db, item.id, source, PARKED)
    item_limits.cancel_own(db, item.id, source, now)
    done = _done(db, item.id, source, entered)
    spent = sum((end - start for start, end in pauses), timedelta(0))
    # `created` moved past the pauses before this visit only: the visit's own ones are applied below.
    created = item.created_at + timedelta(seconds=item.paused_seconds) - spent
    received = item_limits.received_at(db, item.id)
    rows = timers.plan(new, dest, values, entered=entered, created=created, now=now, calendar=calendar, tz=tz,
                       received=received + timedelta(seconds=item.paused_seconds) - spent if received else None)
    rows = [r for r in rows if (r["kind"], r["rule_index"]) not in done]
    queries.add_deadlines(db, [{"item_id": item.id, **r} for r in rows])
    for start, end in pauses:
        timers._resume(db, item.id, new, dest, start, end, calendar)  # what `move` does on coming back
    item_limits.carry(db, item.id, PARKED, dest)
    return rows


def replan(db: Connection, item: Row[Any], old: WorkflowDefinition, new: WorkflowDefinition, state: str,
           paused_from: str | None, values: Mapping[str, Any], now: datetime, calendar: Calendar,
           tz: tzinfo) -> dict[str, Any]:
    """Rewrite the item's pending deadlines for `new` (it is moving to `state`; `paused_from`: the new
    name of the state its pause suspended) and return its new time columns (written here too)."""
    def was_paused(name: str | None) -> bool:
        spec = old.states.get(name or "")
        return spec is not None and spec.paused

    columns: dict[str, Any] = {}
    now_paused, will_pause = item.paused_since is not None, new.states[state].paused
    pauses = [] if now_paused else _pauses(db, item.id, was_paused, item.state_entered_at, now)
    _replan_state(db, item, new, item.state, state, item.state_entered_at, pauses, values, now, calendar, tz)
    held = item.paused_from
    if now_paused and held and will_pause and paused_from:  # still paused: the suspended state is replanned
        earlier = _pauses(db, item.id, was_paused, item.paused_from_entered_at or item.paused_since,
                          item.paused_since)
        _replan_state(db, item, new, held, paused_from, item.paused_from_entered_at or item.paused_since,
                      earlier, values, now, calendar, tz)
        columns["paused_from"] = paused_from
    elif now_paused and not will_pause:  # the new state does not pause: the pause ends now, as `move` ends one
        if held:
            timers._resume(db, item.id, new, held, item.paused_since, now, calendar, whole_only=True)
            item_limits.cancel_own(db, item.id, held, now)
            item_limits.carry(db, item.id, held, state)
        spent = now - item.paused_since
        columns.update(paused_since=None, paused_from=None, paused_from_entered_at=None,
                       paused_seconds=item.paused_seconds + round(spent.total_seconds()))
    elif not now_paused and will_pause:  # the new state pauses: from now on (nothing to return to)
        columns.update(paused_since=now, paused_from=None, paused_from_entered_at=None)
    columns["deadline_at"] = None if will_pause else queries.earliest_due(db, item.id, state)
    queries.set_time_columns(db, item.id, columns)
    return columns
