"""Time limits at run time: the deadlines stored on entering a state (engine/runtime/tick.py fires them).

    plan_entry(...)  the columns and item_deadlines rows of an item created in a state
    move(...)        after a transition's version-checked update: cancel, suspend, resume, compute
    calendar_note()  the history marker of deadlines counted past the calendar's holiday list
    status(...)      'not_yet' | 'due' | 'overdue' | 'none' for the item's current state
    Calendars        each estate's working calendar; CALENDARS is the process-wide default

create, fire and tick take the Calendars to count by as an argument (default CALENDARS)
and hand it down; the functions here take the one estate's Calendar.

A limit runs from `since` (entered, created, or a date/datetime field: 00:00 local of a
date) for `within` (calendar time, or working time by the estate's calendar: `d` and `w`
count working days, a working week being 5, `h` and `m` time inside working hours), or
to `by: end_of_day`. `warn: 80%` falls at since + 0.8 × (due − since) in elapsed time.
Time in a paused state does not count: the left state's rows are suspended and, on
coming back, moved later by the time spent paused (working time for working limits).
Working time past the last day the calendar's holiday list covers counts the plain
working week (engine/language/calendar.py); the history row of the transition (or
creation) that planned such a deadline carries `"_calendar_uncovered": [null, "YYYY-12-31"]`,
so the timeline can say the deadline was computed without a holiday list.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection

from engine.errors import DefinitionError
from engine.language.calendar import Calendar, CoverageGap, coverage_gap, load_calendar
from engine.language.definition import Duration, WorkflowDefinition
from engine.language.loader import CALENDAR_FILE, DEFAULT_WORKFLOWS_DIR, ESTATES_DIR, calendar_files
from engine.store import queries

__all__ = [
    "CALENDARS", "UNCOVERED", "WAS_OVERDUE", "Calendars", "calendar_note", "limit_text", "move", "plan_entry",
    "rule_of", "status", "timeless",
]

log = logging.getLogger("estateflow.timers")
_ESTATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_UNIT = {"m": "分钟", "h": "小时", "d": "天", "w": "周"}
_WORKING_UNIT = {"m": "工作分钟", "h": "工作小时", "d": "个工作日", "w": "个工作周"}
# History markers, shaped like a field change ([old, new]) so history pages show them; the
# leading _ keeps them apart from field names (which start with a letter).
WAS_OVERDUE = "_was_overdue"
"""On the transition leaving a late state: [true, false]. Statistics count late items by it."""
UNCOVERED = "_calendar_uncovered"
"""On the row that planned a working-time deadline past the holiday list: [null, its last covered day]."""


class Calendars:
    """Each estate's working calendar from a definitions folder (re-read when its file changes).

    `<dir>/estates/<estate>/calendar.yaml`, else `<dir>/calendar.yaml`, else the
    built-in default (09:00-12:00, 13:30-18:00, Monday to Friday, no holidays). The
    folder defaults to $ESTATEFLOW_WORKFLOWS, else `workflows/` (looked up when used).
    """

    def __init__(self, workflows_dir: Path | str | None = None) -> None:
        self._workflows_dir = workflows_dir
        self._cache: dict[Path, tuple[int, Calendar]] = {}
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        """The definitions folder the calendar files are read from."""
        return Path(self._workflows_dir or os.environ.get("ESTATEFLOW_WORKFLOWS") or DEFAULT_WORKFLOWS_DIR)

    def for_estate(self, estate_id: str) -> Calendar:
        """The calendar limits of `estate_id` count by."""
        folder = self.folder
        own = [folder / ESTATES_DIR / estate_id / CALENDAR_FILE] if _ESTATE_ID.match(estate_id) else []
        for path in [*own, folder / CALENDAR_FILE]:
            calendar = self._read(path)
            if calendar is not None:
                return calendar
        return Calendar()

    def _read(self, path: Path) -> Calendar | None:
        """The calendar of `path` (cached while the file is unchanged); None when there is no file."""
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return None
        hit = self._cache.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            calendar = load_calendar(path)
        except DefinitionError:
            # `estateflow validate` reports the problems; limits keep running meanwhile.
            log.warning("calendar %s has problems: using the built-in default", path)
            calendar = Calendar()
        with self._lock:
            self._cache[path] = (stamp, calendar)
        return calendar

    def coverage_gaps(self, now: datetime) -> list[CoverageGap]:
        """The folder's calendar files whose holiday lists end within the next 90 days (the admin's banner)."""
        gaps = []
        for path in calendar_files(self.folder):
            calendar = self._read(path)
            if calendar is not None:
                gap = coverage_gap(str(path), calendar, now.astimezone(calendar.tz).date())
                if gap is not None:
                    gaps.append(gap)
        return gaps


CALENDARS = Calendars()
"""The process-wide default: $ESTATEFLOW_WORKFLOWS, else `workflows/` (files are read on first use)."""


# -- computing deadlines -------------------------------------------------------------------


def _add(calendar: Calendar, start: datetime, duration: Duration, working: bool) -> datetime:
    if not (working or duration.working):
        return start + duration.delta
    if duration.unit in "dw":
        return calendar.add_working_days(start, duration.amount * (5 if duration.unit == "w" else 1))
    return calendar.add_working(start, duration.delta)


def limit_text(duration: Duration | None, working: bool, by: str | None) -> str:
    """A limit in Chinese for messages: 1小时, 2个工作日, 当天."""
    if by == "end_of_day" or duration is None:
        return "当天"
    units = _WORKING_UNIT if working or duration.working else _UNIT
    return f"{duration.amount}{units[duration.unit]}"


def _moment(name: str, values: Mapping[str, Any], entered: datetime, created: datetime,
            tz: tzinfo) -> datetime | None:
    if name == "entered":
        return entered
    if name == "created":
        return created
    value = values.get(name)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0), tz)
    return None  # an unset field: the limit does not apply


def plan(definition: WorkflowDefinition, state: str, values: Mapping[str, Any], *, entered: datetime,
         created: datetime, now: datetime, calendar: Calendar, tz: tzinfo) -> list[dict[str, Any]]:
    """The item_deadlines rows (without item_id) of entering `state`; `created` already moved past pauses.

    A paused state gets only its timers: its time does not count, so limits there mean nothing.
    """
    spec = definition.states[state]
    rows: list[dict[str, Any]] = []
    local = now.astimezone(tz)
    for rule in () if spec.paused else spec.sla:
        if rule.when is not None and not bool(rule.when.evaluate(values, local)):
            continue
        since = _moment(rule.since, values, entered, created, tz)
        if since is None:
            continue
        if rule.by == "end_of_day":
            due = calendar.end_of_day(since)
        elif rule.within is not None:
            due = _add(calendar, since, rule.within, rule.working)
        else:
            continue
        opens = _add(calendar, since, rule.not_before, rule.working) if rule.not_before else None
        base = {"state": state, "rule_index": rule.index, "roles": list(rule.escalate_to)}
        rows.append({**base, "kind": "escalate", "due_at": due, "opens_at": opens, "fire": rule.fire})
        if rule.warn is not None and 0 < rule.warn < 1 and due > since:
            rows.append({**base, "kind": "warn", "due_at": since + (due - since) * rule.warn, "opens_at": None,
                         "fire": None})
    for timer in spec.timers:
        if timer.at is not None:
            fires = _moment(timer.at, values, entered, created, tz)
        else:
            fires = _add(calendar, entered, timer.after, timer.working) if timer.after else None
        if fires is not None:
            rows.append({"state": state, "kind": "timer", "rule_index": timer.index, "due_at": fires,
                         "opens_at": None, "roles": [], "fire": timer.fire})
    return rows


def _rule(definition: WorkflowDefinition, state: str, kind: str, index: int) -> Any:
    spec = definition.states.get(state)
    found = (spec.timers if kind == "timer" else spec.sla) if spec else ()
    return found[index] if 0 <= index < len(found) else None


def _counted_working(rule: Any) -> bool:
    """Whether a SlaRule or Timer counts working time (and so depends on the holiday list)."""
    if rule is None or (getattr(rule, "by", None) == "end_of_day" and getattr(rule, "not_before", None) is None):
        return False  # midnight is midnight, holiday or not
    durations = [getattr(rule, name, None) for name in ("within", "not_before", "after")]
    return bool(rule.working) or any(d is not None and d.working for d in durations)


def _beyond(calendar: Calendar, moment: datetime | None) -> bool:
    return moment is not None and calendar.beyond_list(moment.astimezone(calendar.tz).date())


def calendar_note(definition: WorkflowDefinition, calendar: Calendar, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`{UNCOVERED: [None, last covered day]}` when a working-time row runs past the holiday list, else {}.

    Such a deadline counted the plain working week (engine/language/calendar.py); the
    history row that planned it says so, so nobody takes it for a checked date.
    """
    for row in rows:
        if row["kind"] == "warn":
            continue  # a warning follows its escalation, which is looked at
        rule = _rule(definition, row["state"], row["kind"], row["rule_index"])
        if getattr(rule, "at", None) is None and _counted_working(rule) and (
                _beyond(calendar, row["due_at"]) or _beyond(calendar, row["opens_at"])):
            return _uncovered(calendar)
    return {}


def _uncovered(calendar: Calendar) -> dict[str, Any]:
    until = calendar.covered_until
    return {UNCOVERED: [None, until.isoformat() if until else None]}


def _deadline(rows: list[dict[str, Any]]) -> datetime | None:
    return min((r["due_at"] for r in rows if r["kind"] == "escalate"), default=None)


def timeless(definition: WorkflowDefinition, *states: str) -> bool:
    """Whether none of `states` has limits, timers or a pause (the runtime's fast path)."""
    return all(not (s.sla or s.timers or s.paused) for s in (definition.states[n] for n in states))


def plan_entry(definition: WorkflowDefinition, state: str, values: Mapping[str, Any], now: datetime,
               calendar: Calendar, tz: tzinfo) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A new item's time columns and rows (insert the rows with its id)."""
    rows = plan(definition, state, values, entered=now, created=now, now=now, calendar=calendar, tz=tz)
    columns: dict[str, Any] = {"state_entered_at": now, "deadline_at": _deadline(rows), "overdue": False}
    if definition.states[state].paused:
        columns["paused_since"] = now
    return columns, rows


def _time_row(db: Connection, item_id: int) -> Row[Any]:
    items = queries.items
    return db.execute(select(
        items.c.overdue, items.c.paused_since, items.c.paused_from, items.c.paused_from_entered_at,
        items.c.paused_seconds, items.c.state_entered_at, items.c.created_at,
    ).where(items.c.id == item_id)).one()


def move(db: Connection, item_id: int, definition: WorkflowDefinition, source: str, dest: str,
         values: Mapping[str, Any], now: datetime, calendar: Calendar,
         tz: tzinfo) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bookkeeping of a transition `source` → `dest`, run after the item's version-checked update.

    Reads the item again (its row is locked by then, so a tick cannot change it
    meanwhile), writes the rows and the time columns; returns those columns and the
    markers for the transition's history `changes`: WAS_OVERDUE when an overdue flag
    was cleared, UNCOVERED when a deadline was counted past the holiday list.
    """
    cur = _time_row(db, item_id)
    src_paused, dst_paused = definition.states[source].paused, definition.states[dest].paused
    columns: dict[str, Any] = {}
    fresh = True
    notes: dict[str, Any] = {}
    if src_paused and not dst_paused:  # back from a pause
        spent = now - cur.paused_since if cur.paused_since else timedelta(0)
        columns.update(paused_since=None, paused_from=None, paused_from_entered_at=None,
                       paused_seconds=cur.paused_seconds + round(spent.total_seconds()))
        if dest == cur.paused_from:
            fresh = False
            if _resume(db, item_id, definition, dest, cur.paused_since, now, calendar):
                notes.update(_uncovered(calendar))
            columns.update(state_entered_at=cur.paused_from_entered_at or now,
                           deadline_at=queries.earliest_due(db, item_id, dest))
        elif cur.paused_from is not None:
            queries.cancel_deadlines(db, item_id, cur.paused_from, now)
    if not src_paused and dst_paused:  # pausing: the source's rows wait, suspended
        columns.update(paused_since=now, paused_from=source, paused_from_entered_at=cur.state_entered_at)
    else:
        queries.cancel_deadlines(db, item_id, source, now)
    if fresh:
        if not dst_paused:
            if cur.overdue:
                notes[WAS_OVERDUE] = [True, False]
            columns["overdue"] = False
        created = cur.created_at + timedelta(seconds=columns.get("paused_seconds", cur.paused_seconds))
        rows = plan(definition, dest, values, entered=now, created=created, now=now, calendar=calendar, tz=tz)
        queries.add_deadlines(db, [{"item_id": item_id, **r} for r in rows])
        columns.update(state_entered_at=now, deadline_at=_deadline(rows))
        notes.update(calendar_note(definition, calendar, rows))
    queries.set_time_columns(db, item_id, columns)
    return columns, notes


def rule_of(definition: WorkflowDefinition, row: Row[Any]) -> Any:
    """The SlaRule or Timer an item_deadlines row came from (None if the definition has no such entry)."""
    return _rule(definition, row.state, row.kind, row.rule_index)


def _resume(db: Connection, item_id: int, definition: WorkflowDefinition, state: str, since: datetime | None,
            now: datetime, calendar: Calendar) -> bool:
    """Move the suspended rows of `state` later by the time spent paused (`at` timers keep their moment).

    Returns whether a working-time row moved past the calendar's holiday list.
    """
    if since is None or now <= since:
        return False
    beyond = False
    working_spent: timedelta | None = None
    for row in queries.pending_deadlines(db, item_id, state):
        rule = rule_of(definition, row)
        if getattr(rule, "at", None) is not None:
            continue  # a date someone wrote down does not move
        if rule is not None and rule.working:
            if working_spent is None:
                working_spent = calendar.working_time_between(since, now)
            if working_spent <= timedelta(0):
                continue
            due = calendar.add_working(row.due_at, working_spent)
            opens = calendar.add_working(row.opens_at, working_spent) if row.opens_at else None
            beyond = beyond or (row.kind != "warn" and _beyond(calendar, due))
        else:
            due, opens = row.due_at + (now - since), (row.opens_at + (now - since) if row.opens_at else None)
        queries.shift_deadline(db, row.id, due, opens)
    return beyond


def status(db: Connection, item_id: int, state: str, overdue: bool, now: datetime) -> str:
    """The current state's limit: 'overdue', 'not_yet' (a window not open), 'due', or 'none'."""
    if overdue:
        return "overdue"
    rows = [r for r in queries.pending_deadlines(db, item_id, state) if r.kind == "escalate"]
    if not rows:
        return "none"
    return "due" if any(r.opens_at is None or r.opens_at <= now for r in rows) else "not_yet"
