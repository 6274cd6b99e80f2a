"""`tick`: fire every due warning, escalation and timer exactly once, each in its own transaction.

    tick(factory, clock)            one pass over the rows due now (several workers may run at once)
    advance(factory, clock, until)  move a FixedClock, ticking at each due instant on the way (scenarios)

A row is claimed by `UPDATE item_deadlines SET status='done' WHERE id=:id AND
status='pending'` in the same transaction as its effects (history event, outbox rows,
a timed transition), so a crash repeats nothing done and loses nothing claimed. On
PostgreSQL the item row and the deadline row are locked with SKIP LOCKED first: a worker
never waits for another, and the lock order (item, then deadline) is the one `fire`
takes, so they cannot deadlock. On SQLite, BEGIN IMMEDIATE serialises the writers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session, sessionmaker

from engine.access.actor import Actor
from engine.clock import Clock
from engine.errors import Conflict, TransitionError
from engine.language.definition import WorkflowDefinition
from engine.runtime.item_limits import index_of
from engine.runtime.items import fire
from engine.runtime.registry import REGISTRY, Registry
from engine.runtime.timers import CALENDARS, Calendars, limit_text, rule_of
from engine.runtime.writes import add_notifications
from engine.store import queries
from engine.store.db import make_session_factory, transaction

__all__ = ["TickReport", "advance", "tick"]

log = logging.getLogger("estateflow.tick")
SYSTEM_NAME = "系统"


@dataclass
class TickReport:
    """What one pass did: rows handled by kind, and rows left for a later pass."""

    escalated: int = 0
    warned: int = 0
    fired: int = 0
    skipped: int = 0
    taken: int = 0
    """Claimed by another worker first (or cancelled meanwhile)."""
    busy: int = 0
    """Left pending for a later pass: the item was locked or paused meanwhile."""
    failed: int = 0

    @property
    def handled(self) -> int:
        """Rows claimed and done in this pass."""
        return self.escalated + self.warned + self.fired + self.skipped

    def __str__(self) -> str:
        return ", ".join(f"{f.name} {getattr(self, f.name)}" for f in fields(self))


class _Unclaim(Exception):
    """The row cannot run now (its item was paused meanwhile): roll the claim back."""


@dataclass(frozen=True)
class _Job:
    session: Session
    row: Row[Any]
    item: Row[Any]
    definition: WorkflowDefinition
    now: datetime
    clock: Clock
    registry: Registry
    calendars: Calendars


def tick(factory: sessionmaker[Session], clock: Clock, *, registry: Registry = REGISTRY,
         calendars: Calendars = CALENDARS, batch: int = 500) -> TickReport:
    """One pass: handle every row due by now, earliest first, each in a transaction of its own.

    Safe with several workers: a row is claimed by a conditional UPDATE (and, on
    PostgreSQL, its item locked with SKIP LOCKED), so exactly one worker handles it.
    A row whose item is busy is left for the next pass. Never raises for one row.
    """
    report = TickReport()
    now = clock.now()
    # The candidates are read without the write lock (SQLite: a deferred transaction), so
    # several workers list the same rows at once and race on the claims, which decide.
    reader = make_session_factory(factory.kw["bind"], readonly=True) if "bind" in factory.kw else factory
    with reader() as session:
        # Rows written during the pass (a timed transition entering a state) wait for the next
        # one: two states whose timers fire at once into each other must not loop forever.
        last = queries.last_deadline_id(session.connection())
    while True:
        with reader() as session:
            candidates = queries.due_candidates(session.connection(), now, batch, last)
        before = report.handled
        for candidate in candidates:
            outcome = _handle(factory, candidate.id, candidate.item_id, clock, registry, calendars)
            setattr(report, outcome, getattr(report, outcome) + 1)
        if report.handled == before:  # nothing left, or only rows others hold
            return report


def advance(factory: sessionmaker[Session], clock: Any, until: datetime, *, registry: Registry = REGISTRY,
            calendars: Calendars = CALENDARS, limit: int = 10_000) -> int:
    """Move a FixedClock to `until`, stopping at each due time event on the way for a tick pass.

    So an escalation ladder spanning the interval plays out in order, each step at its
    own instant. Returns the number of passes. Raises RuntimeError when a due row cannot
    be handled (it would stop the clock forever) or after `limit` passes.
    """
    passes = 0
    while (due := _next_due(factory, until)) is not None:
        if passes >= limit:
            raise RuntimeError(f"more than {limit} time events in one advance")
        clock.set(max(due, clock.now()))
        report = tick(factory, clock, registry=registry, calendars=calendars)
        passes += 1
        if report.handled == 0:
            raise RuntimeError(f"a time event due at {due.isoformat()} could not be handled ({report})")
    clock.set(max(until, clock.now()))
    return passes


def _next_due(factory: sessionmaker[Session], until: datetime) -> datetime | None:
    with factory() as session:
        return queries.next_due(session.connection(), until)


def _handle(factory: sessionmaker[Session], deadline_id: int, item_id: int, clock: Clock, registry: Registry,
            calendars: Calendars) -> str:
    try:
        with transaction(factory) as session:
            db = session.connection()
            now = clock.now()
            if not queries.lock_item(db, item_id):
                return "busy"
            row = queries.claim_deadline(db, deadline_id, now)
            if row is None:
                return "taken"
            item = queries.item_row(db, item_id)
            if item is None or item.state != row.state or (item.paused_since is not None and row.kind != "timer"):
                raise _Unclaim
            definition = registry.compiled(session, item.definition_id, item.content_hash)
            job = _Job(session, row, item, definition, now, clock, registry, calendars)
            return _HANDLERS[row.kind](job)
    except (_Unclaim, Conflict):
        return "busy"
    except Exception as error:  # noqa: BLE001 - one bad row must not stop the others
        # Ids and the error's type only: messages may quote SQL parameters (personal data).
        log.error("tick: deadline %s of item %s failed: %s", deadline_id, item_id, type(error).__name__)
        return "failed"


def _event(job: _Job, event: str, comment: str, changes: dict[str, Any]) -> None:
    queries.add_history(job.session.connection(), {
        "item_id": job.item.id, "kind": "event", "transition": None, "event": event,
        "from_state": job.row.state, "to_state": job.row.state, "actor_id": None, "actor_name": SYSTEM_NAME,
        "at": job.now, "changes": changes, "comment": comment,
    })


def _notify(job: _Job, body: str) -> None:
    add_notifications(job.session.connection(), definition=job.definition, item_id=job.item.id,
                      number=job.item.number, estate_id=job.item.estate_id, roles=job.row.roles or (), body=body,
                      now=job.now)


def _describe(job: _Job) -> tuple[str, str]:
    """('业主投诉 TS-000012', '（处理中，1小时）'): no field values, so no personal data."""
    rule = rule_of(job.definition, job.row)
    limit = limit_text(rule.within, rule.working, rule.by) if rule is not None else ""
    # A whole-item limit (item_sla) is not the current state's: say it counts for the whole item.
    label = "整单时限" if index_of(job.row.rule_index) is not None else job.definition.states[job.row.state].label
    # A limit that applies under a condition says which, in its `when` label's words (never the expression).
    condition = getattr(rule, "when_label", None)
    return f"{job.definition.title} {job.item.number}", f"（{label}，{limit}{'，' + condition if condition else ''}）"


def _escalate(job: _Job) -> str:
    what, where = _describe(job)
    text = f"【超时】{what} 已超过时限{where}"
    _event(job, "escalated", text, {"escalate_to": [None, list(job.row.roles or ())]})
    _notify(job, text)
    db = job.session.connection()
    queries.set_time_columns(db, job.item.id, {
        "overdue": True, "deadline_at": queries.earliest_due(db, job.item.id, job.row.state)})
    if job.row.fire:
        _fire(job, "超时自动执行")
    return "escalated"


def _warn(job: _Job) -> str:
    what, where = _describe(job)
    _event(job, "warned", f"【预警】{what} 即将超过时限{where}", {"escalate_to": [None, list(job.row.roles or ())]})
    _notify(job, f"【预警】{what} 即将超过时限{where}")
    return "warned"


def _timer(job: _Job) -> str:
    return "fired" if _fire(job, "定时自动执行") else "skipped"


def _fire(job: _Job, comment: str) -> bool:
    """Fire the row's transition as the system, through the normal path; a refusal becomes an event."""
    name = str(job.row.fire)
    try:
        with job.session.begin_nested():
            fire(job.session, job.item.id, name, Actor.system(), None, comment, job.item.version,
                 clock=job.clock, registry=job.registry, calendars=job.calendars)
    except Conflict:
        raise
    except TransitionError as error:
        # The label of that name's first branch leaving this state (not whichever entry of the name is last).
        label = next((t.label for t in job.definition.transitions_from(job.row.state, name)), name)
        _event(job, "timer_skipped", f"定时操作“{label}”未执行：{error.message}",
               {"reason": [None, error.code]})
        return False
    return True


_HANDLERS = {"escalate": _escalate, "warn": _warn, "timer": _timer}
