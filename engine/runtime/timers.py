"""Time limits at run time: the deadlines stored on entering a state (engine/runtime/tick.py fires them).

    plan_entry(...)  the columns and item_deadlines rows of an item created in a state
    move(...)        after a transition's version-checked update: cancel, suspend, resume, compute
    calendar_note()  the history marker of deadlines counted past the calendar's holiday list
    status(...)      'not_yet' | 'due' | 'overdue' | 'none' for the item's current state
    Calendars        each estate's working calendar; CALENDARS is the process-wide default
                     (engine/runtime/calendars.py; importable from here, as create, fire and tick do)

create, fire and tick take the Calendars to count by as an argument (default CALENDARS)
and hand it down; the functions here take the one estate's Calendar.

A limit runs from `since` (entered, created, received: the creation of the first item of
the spawn chain, or a date/datetime field: 00:00 local of a date) for `within` (calendar
time, or working time by the estate's calendar: `d` and `w` count working days, a working
week being 5, `h` and `m` time inside working hours), or to `by: end_of_day` (midnight; in
working time the end of the working day, engine/language/calendar.py). Whole-item limits
(`item_sla`) are armed at creation and follow the item from state to state
(engine/runtime/item_limits.py) until a final state cancels them. `warn: 80%` falls at
since + 0.8 × (due − since) in elapsed time.
Time in a paused state does not count: the left state's rows are suspended and, on
coming back, moved later by the time spent paused (working time for working limits).
Working time past the last day the calendar's holiday list covers counts the plain
working week (engine/language/calendar.py); the history row of the transition (or
creation) that planned such a deadline carries `"_calendar_uncovered": [null, "YYYY-12-31"]`,
so the timeline can say the deadline was computed without a holiday list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection

from engine.language.calendar import Calendar
from engine.language.definition import Duration, SlaRule, StateDef, WorkflowDefinition
from engine.runtime import item_limits
from engine.runtime.calendars import CALENDARS, Calendars
from engine.store import queries

__all__ = [
    "CALENDARS", "UNCOVERED", "WAS_OVERDUE", "Calendars", "calendar_note", "limit_text", "move", "plan_entry",
    "rule_of", "status", "timeless",
]

_UNIT = {"m": "分钟", "h": "小时", "d": "天", "w": "周"}
_WORKING_UNIT = {"m": "工作分钟", "h": "工作小时", "d": "个工作日", "w": "个工作周"}
# History markers, shaped like a field change ([old, new]) so history pages show them; the
# leading _ keeps them apart from field names (which start with a letter).
WAS_OVERDUE = "_was_overdue"
"""On the transition leaving a late state: [true, false]. Statistics count late items by it."""
UNCOVERED = "_calendar_uncovered"
"""On the row that planned a working-time deadline past the holiday list: [null, its last covered day]."""


# -- computing deadlines -------------------------------------------------------------------


def _add(calendar: Calendar, start: datetime, duration: Duration, working: bool) -> datetime:
    if not (working or duration.working):
        return start + duration.delta
    if duration.unit in "dw":
        return calendar.add_working_days(start, duration.amount * (5 if duration.unit == "w" else 1))
    return calendar.add_working(start, duration.delta)


def limit_text(duration: Duration | None, working: bool, by: str | None) -> str:
    """A limit in Chinese for messages: 1小时, 2个工作日, 当天."""
    if by == "end_of_day" and working:
        return "当个工作日下班前"
    if by == "end_of_day" or duration is None:
        return "当天"
    units = _WORKING_UNIT if working or duration.working else _UNIT
    return f"{duration.amount}{units[duration.unit]}"


def _moment(name: str, values: Mapping[str, Any], entered: datetime, created: datetime,
            tz: tzinfo, received: datetime | None = None) -> datetime | None:
    if name == "entered":
        return entered
    if name == "created":
        return created
    if name == "received":
        return received or created
    value = values.get(name)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0), tz)
    return None  # an unset field: the limit does not apply


def _limit_rows(rules: tuple[SlaRule, ...], state: str, values: Mapping[str, Any], *, entered: datetime,
                created: datetime, received: datetime | None, now: datetime, calendar: Calendar, tz: tzinfo,
                index: Callable[[int], int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    local = now.astimezone(tz)
    for rule in rules:
        if rule.when is not None and not bool(rule.when.evaluate(values, local)):
            continue
        since = _moment(rule.since, values, entered, created, tz, received)
        if since is None:
            continue
        if rule.by == "end_of_day":
            due = calendar.end_of_working_day(since) if rule.working else calendar.end_of_day(since)
        elif rule.within is not None:
            due = _add(calendar, since, rule.within, rule.working)
        else:
            continue
        opens = _add(calendar, since, rule.not_before, rule.working) if rule.not_before else None
        base = {"state": state, "rule_index": index(rule.index), "roles": list(rule.escalate_to)}
        rows.append({**base, "kind": "escalate", "due_at": due, "opens_at": opens, "fire": rule.fire})
        if rule.warn is not None and 0 < rule.warn < 1 and due > since:
            rows.append({**base, "kind": "warn", "due_at": since + (due - since) * rule.warn, "opens_at": None,
                         "fire": None})
    return rows


def plan(definition: WorkflowDefinition, state: str, values: Mapping[str, Any], *, entered: datetime,
         created: datetime, now: datetime, calendar: Calendar, tz: tzinfo,
         received: datetime | None = None) -> list[dict[str, Any]]:
    """The item_deadlines rows (without item_id) of entering `state`; `created` (and `received`)
    already moved past pauses.

    A paused state gets only its timers: its time does not count, so limits there mean nothing.
    """
    spec = definition.states[state]
    rows = _limit_rows(() if spec.paused else spec.sla, state, values, entered=entered, created=created,
                       received=received, now=now, calendar=calendar, tz=tz, index=lambda i: i)
    for timer in spec.timers:
        if timer.at is not None:
            fires = _moment(timer.at, values, entered, created, tz, received)
        else:
            fires = _add(calendar, entered, timer.after, timer.working) if timer.after else None
        if fires is not None:
            rows.append({"state": state, "kind": "timer", "rule_index": timer.index, "due_at": fires,
                         "opens_at": None, "roles": [], "fire": timer.fire})
    return rows


def _rule(definition: WorkflowDefinition, state: str, kind: str, index: int) -> Any:
    whole = item_limits.index_of(index)
    if whole is not None:  # a whole-item limit (item_sla), whatever state it is carried in
        return definition.item_sla[whole] if kind != "timer" and whole < len(definition.item_sla) else None
    spec = definition.states.get(state)
    found = (spec.timers if kind == "timer" else spec.sla) if spec else ()
    return found[index] if 0 <= index < len(found) else None


def _counted_working(rule: Any) -> bool:
    """Whether a SlaRule or Timer counts working time (and so depends on the holiday list)."""
    if rule is None:
        return False
    if getattr(rule, "by", None) == "end_of_day" and getattr(rule, "not_before", None) is None:
        return bool(rule.working)  # midnight is midnight, holiday or not; the end of a working day is not
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
    if definition.item_sla:
        return False  # whole-item rows follow the item from state to state
    return all(not (s.sla or s.timers or s.paused) for s in (definition.states[n] for n in states))


def plan_entry(definition: WorkflowDefinition, state: str, values: Mapping[str, Any], now: datetime,
               calendar: Calendar, tz: tzinfo,
               received: datetime | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A new item's time columns and rows (insert the rows with its id); the whole-item limits are armed here.

    `received`: when the call behind it came in (the item it is spawned from: item_limits.received_at).
    """
    received = min(received, now) if received is not None else now
    rows = plan(definition, state, values, entered=now, created=now, now=now, calendar=calendar, tz=tz,
                received=received)
    rows += _limit_rows(definition.item_sla, state, values, entered=now, created=now, received=received, now=now,
                        calendar=calendar, tz=tz, index=item_limits.rule_index)
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
    final = definition.states[dest].final
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
        else:
            held = cur.paused_from or source  # the state the suspended whole-item rows are carried in
            if definition.item_sla and not final:
                if _resume(db, item_id, definition, held, cur.paused_since, now, calendar, whole_only=True):
                    notes.update(_uncovered(calendar))
                item_limits.carry(db, item_id, held, dest)
                item_limits.stop(db, item_id, definition.item_sla, dest, now)
            if cur.paused_from is not None:
                queries.cancel_deadlines(db, item_id, cur.paused_from, now)
    if not src_paused and dst_paused:  # pausing: the source's rows wait, suspended
        columns.update(paused_since=now, paused_from=source, paused_from_entered_at=cur.state_entered_at)
    elif definition.item_sla and not final:  # the whole-item rows go on in `dest`; the state's own end
        item_limits.cancel_own(db, item_id, source, now)
        item_limits.carry(db, item_id, source, dest)
        item_limits.stop(db, item_id, definition.item_sla, dest, now)
    else:
        queries.cancel_deadlines(db, item_id, source, now)
    if fresh:
        # A passed whole-item limit marks the item overdue like a state's own does: until the next step
        # (the escalation stays in the history, and WAS_OVERDUE on that step counts it).
        if not dst_paused:
            if cur.overdue:
                notes[WAS_OVERDUE] = [True, False]
            columns["overdue"] = False
        shift = timedelta(seconds=columns.get("paused_seconds", cur.paused_seconds))
        created = cur.created_at + shift
        received = _received(db, item_id, definition.states[dest], created, shift)
        rows = plan(definition, dest, values, entered=now, created=created, now=now, calendar=calendar, tz=tz,
                    received=received)
        queries.add_deadlines(db, [{"item_id": item_id, **r} for r in rows])
        whole = bool(definition.item_sla) and not dst_paused
        columns.update(state_entered_at=now,
                       deadline_at=queries.earliest_due(db, item_id, dest) if whole else _deadline(rows))
        notes.update(calendar_note(definition, calendar, rows))
    queries.set_time_columns(db, item_id, columns)
    return columns, notes


def _received(db: Connection, item_id: int, spec: StateDef, created: datetime, shift: timedelta) -> datetime:
    """The reception time, moved past this item's pauses like `created` (read only when a limit counts from it)."""
    if not any(rule.since == "received" for rule in spec.sla):
        return created
    found = item_limits.received_at(db, item_id)
    return found + shift if found is not None else created


def rule_of(definition: WorkflowDefinition, row: Row[Any]) -> Any:
    """The SlaRule or Timer an item_deadlines row came from (None if the definition has no such entry)."""
    return _rule(definition, row.state, row.kind, row.rule_index)


def _resume(db: Connection, item_id: int, definition: WorkflowDefinition, state: str, since: datetime | None,
            now: datetime, calendar: Calendar, *, whole_only: bool = False) -> bool:
    """Move the suspended rows of `state` (`whole_only`: its whole-item rows) later by the time spent
    paused (`at` timers keep their moment).

    Returns whether a working-time row moved past the calendar's holiday list.
    """
    if since is None or now <= since:
        return False
    beyond = False
    working_spent: timedelta | None = None
    for row in queries.pending_deadlines(db, item_id, state):
        if whole_only and item_limits.index_of(row.rule_index) is None:
            continue
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
