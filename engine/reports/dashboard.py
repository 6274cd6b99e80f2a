"""The home page's figures by role: what a manager or a front-desk clerk should see on every visit.

    dashboard(session, actor, now=, panels=)  -> Dashboard
    Panels()                                   report panels kept a few minutes (one per web process)

Managers and supervisors (MANAGER_ROLES) get, per workflow they see, today's overdue and
due-today counts, and the first table of each published report whose `dashboard:` names one of
their roles (the report's default range: `periods` × `period` ending today). The front desk
(DESK_ROLES) gets its own figures: items registered today and this week, open items assigned to
them and how many of those are overdue. A section that does not apply, or is empty, is left out.

The page renders this on every visit, so the counts are a fixed handful of SQL statements whose
work follows the open items or the person's own items, never the whole store: open items are
found by (workflow_id, state) (ix_items_workflow_state), registrations by (workflow_id, estate_id,
created_at) (ix_items_workflow_estate_created), a person's items by item_assignees.user_id. Every
count carries the lists' visibility term (engine.views.listing), so a number never counts an item
the list behind it would not show. The report panels cost what engine.reports.compute costs over
their range (seconds on a big store: docs/reports.md "Speed"); a Panels keeps them a few minutes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from engine.access import permissions, visibility
from engine.access.actor import Actor
from engine.clock import DEFAULT_TIMEZONE
from engine.reports.compute import compute
from engine.reports.definition import ReportDefinition
from engine.reports.periods import span
from engine.reports.published import available
from engine.reports.result import ReportResult
from engine.runtime.registry import REGISTRY, Registry
from engine.runtime.timers import CALENDARS, Calendars
from engine.views.listing import assignees, estates, items, versions_of, visible

__all__ = ["DESK_ROLES", "MANAGER_ROLES", "Dashboard", "DeskFigures", "Panels", "WorkflowDue", "dashboard"]

# Who gets the management figures (workflows/roles.yaml): the posts that answer for lateness and
# for the department's numbers — 客服主管, 客服部经理, 项目经理, 分公司主管领导, and 工程主管, who
# dispatches the repairmen and chases their deadlines. An executor's counts still follow its
# limited sight (its department's items only).
MANAGER_ROLES = frozenset({"cs_supervisor", "cs_manager", "project_manager", "branch_leader", "engineering_lead"})
# Who gets their own figures: the posts that register what residents bring (首问责任制).
DESK_ROLES = frozenset({"frontdesk", "housekeeper"})


@dataclass(frozen=True, slots=True)
class WorkflowDue:
    """Today's lateness of one workflow's open items the actor sees."""

    workflow: str
    title: str
    """The workflow's title (业主投诉), as staff read it."""
    overdue: int
    """Open items whose overdue flag is set or whose deadline has passed (the lists' 超时)."""
    due_today: int
    """Open items not yet overdue whose deadline falls before the end of today (the estate's local day)."""


@dataclass(frozen=True, slots=True)
class DeskFigures:
    """A front-desk clerk's own figures."""

    registered_today: int
    registered_this_week: int
    """Since Monday, today included (the estate's local days)."""
    assigned_open: int
    """Open items a `user` field names them in."""
    assigned_overdue: int
    """Of those, how many are overdue."""


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Whatever sections apply to the actor; a section left empty is omitted (empty tuple / None)."""

    due: tuple[WorkflowDue, ...] = ()
    """Managers: per workflow with an overdue or due-today item, by workflow title."""
    reports: tuple[ReportResult, ...] = ()
    """Managers: each dashboard report's result, its first table only, by report title."""
    desk: DeskFigures | None = None
    """Front desk: their own figures."""

    @property
    def empty(self) -> bool:
        """Whether there is nothing to show."""
        return not (self.due or self.reports or self.desk)


def dashboard(session: Session, actor: Actor, *, now: datetime, registry: Registry = REGISTRY,
              panels: Panels | None = None, calendars: Calendars = CALENDARS) -> Dashboard:
    """The actor's home-page figures at `now` (see the module docstring); never commits.

    `panels`: keep the report panels for a few minutes (the web app holds one Panels); None computes
    them every time. The due and desk counts are always read afresh.
    """
    if actor.is_system or not actor.estates:
        return Dashboard()
    known = versions_of(session, registry)
    zones = _zones(session, actor)
    due: tuple[WorkflowDue, ...] = ()
    reports: tuple[ReportResult, ...] = ()
    desk: DeskFigures | None = None
    if actor.roles & MANAGER_ROLES:
        due = _due(session, actor, known, zones, now)
        reports = _reports(session, actor, zones, now, registry, panels, calendars)
    if actor.roles & DESK_ROLES and actor.user_id is not None:
        desk = _desk(session, actor, known, zones, now)
    return Dashboard(due=due, reports=reports, desk=desk)


class Panels:
    """Report panels computed lately, kept `seconds` (by the time asked for, so a FixedClock works too).

    A report over eight weeks or a month reads every item of its range (engine/reports/events.py):
    seconds on a big store (docs/reports.md "Speed"), too slow for every visit of the home page.
    A panel a few minutes old is fine for a trend or a monthly rate (its `generated_at` says when
    it was counted); the overdue and due-today counts are never kept. Thread-safe; one per process.
    """

    def __init__(self, seconds: int = 300, most: int = 2000) -> None:
        self.keep = timedelta(seconds=seconds)
        self.most = most
        self._kept: dict[Any, ReportResult] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, now: datetime) -> ReportResult | None:
        """The panel kept under `key`, if counted less than `seconds` before `now`."""
        with self._lock:
            found = self._kept.get(key)
        if found is None or not timedelta(0) <= now - found.generated_at < self.keep:
            return None
        return found

    def put(self, key: Any, result: ReportResult) -> None:
        with self._lock:
            if len(self._kept) >= self.most:  # the oldest half goes: a bound, not an exact LRU
                for old in sorted(self._kept, key=lambda k: self._kept[k].generated_at)[: self.most // 2]:
                    del self._kept[old]
            self._kept[key] = result


# -- time ------------------------------------------------------------------------------------

def _zones(session: Session, actor: Actor) -> dict[str, ZoneInfo]:
    """Each of the actor's estates with its time zone (days are the estate's local days)."""
    stmt = select(estates.c.id, estates.c.timezone).where(*permissions.in_estates(actor, estates.c.id))
    return {r.id: ZoneInfo(r.timezone or DEFAULT_TIMEZONE) for r in session.execute(stmt)}


def _today(zones: dict[str, ZoneInfo], now: datetime) -> date:
    """Today in the actor's first estate (a report's range needs one date)."""
    zone = zones[min(zones)] if zones else ZoneInfo(DEFAULT_TIMEZONE)
    return now.astimezone(zone).date()


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, zone)


def _per_estate(zones: dict[str, ZoneInfo], moment: Any) -> ColumnElement[Any]:
    """A moment that depends on the item's estate (`moment(zone)`), as one SQL expression.

    Most deployments have one time zone: then it is a plain bound value.
    """
    values = {estate: moment(zone) for estate, zone in sorted(zones.items())}
    distinct = set(values.values())
    if len(distinct) <= 1:
        return literal(next(iter(distinct)) if distinct else moment(ZoneInfo(DEFAULT_TIMEZONE)),
                       type_=items.c.created_at.type)
    return case(*((items.c.estate_id == e, literal(v, type_=items.c.created_at.type)) for e, v in values.items()))


# -- the workflows and their open states -------------------------------------------------------

def _titles(known: Sequence[visibility.Version]) -> dict[str, str]:
    """Workflow id → title of its newest base version (an estate's own when it has no base)."""
    titles: dict[str, str] = {}
    for version in known:  # oldest first: newer versions overwrite
        workflow = version.definition.id
        if version.estate_id == "" or workflow not in titles:
            titles[workflow] = version.definition.title
    return titles


def _open_states(known: Sequence[visibility.Version],
                 workflows: Sequence[str]) -> tuple[list[visibility.Version], set[str]]:
    """The versions of `workflows`, and every state name not final in one of them."""
    chosen = [v for v in known if v.definition.id in workflows]
    return chosen, {n for v in chosen for n, s in v.definition.states.items() if not s.final}


def _open(known: Sequence[visibility.Version], workflows: Sequence[str], table: Table = items) -> ColumnElement[bool]:
    """The items of `workflows` in a state that is not final (in `table`, the items or an alias of them).

    Written as workflow_id IN (...) AND state IN (...), the columns of ix_items_workflow_state. A
    state name that is final in one version and open in another is decided by the version.
    """
    chosen, open_states = _open_states(known, workflows)
    if not open_states:
        return literal(False)
    term = and_(table.c.workflow_id.in_(sorted(workflows)), table.c.state.in_(sorted(open_states)))
    ambiguous = sorted(open_states & {n for v in chosen for n, s in v.definition.states.items() if s.final})
    if not ambiguous:
        return term
    open_in = [and_(table.c.state == name, table.c.definition_id.in_(
        [v.id for v in chosen if name in v.definition.states and not v.definition.states[name].final]))
        for name in ambiguous]
    return and_(term, or_(table.c.state.notin_(ambiguous), *open_in))


def _open_ids(known: Sequence[visibility.Version], workflows: Sequence[str],
              estates: Sequence[str] | None) -> ColumnElement[bool]:
    """The open items of `workflows` in `estates` (None: every estate), as `items.id IN (subquery)`.

    A subquery, because written inline next to the visibility term (estate_id = ... per estate)
    SQLite reads (workflow_id, estate_id) instead: every item of the estate, closed ones included,
    the whole store. ANALYZE's averages cannot tell it that the open states hold few items; the
    subquery reads them from ix_items_workflow_state alone, then each item by its id.
    """
    found = items.alias("open_items")
    open_states = _open_states(known, workflows)[1]
    # The subquery names the pairs only (an OR inside makes SQLite scan); _open refines outside.
    pairs = and_(found.c.workflow_id.in_(sorted(workflows)), found.c.state.in_(sorted(open_states)))
    if estates is not None:
        pairs = and_(pairs, found.c.estate_id.in_(sorted(estates)))
    return and_(items.c.id.in_(select(found.c.id).where(pairs)), _open(known, workflows))


def _seen(actor: Actor, known: Sequence[visibility.Version], zones: dict[str, ZoneInfo]) -> list[str]:
    """The workflows whose items the actor sees in at least one of its estates."""
    return sorted({v.definition.id for v in known for e in zones if v.estate_id in ("", e)
                   and visibility.rule_for(actor, v.definition, e) != visibility.HIDDEN})


def _late(now: datetime) -> ColumnElement[bool]:
    """The lists' 超时 (engine.views.listing Filters.overdue): flagged, or the deadline has passed."""
    return or_(items.c.overdue.is_(True), items.c.deadline_at < now)


# -- the sections ----------------------------------------------------------------------------

def _due(session: Session, actor: Actor, known: list[visibility.Version], zones: dict[str, ZoneInfo],
         now: datetime) -> tuple[WorkflowDue, ...]:
    """Per workflow: open items overdue, and due before the end of today — one statement."""
    workflows = _seen(actor, known, zones)
    if not workflows:
        return ()
    tomorrow = _per_estate(zones, lambda z: _local_start(now.astimezone(z).date() + timedelta(days=1), z))
    late = _late(now)
    # A deadline "by the end of the day" is midnight ending it: still today's.
    due_today = and_(items.c.overdue.is_(False), items.c.deadline_at >= now, items.c.deadline_at <= tomorrow)
    stmt = (select(items.c.workflow_id,
                   func.sum(case((late, 1), else_=0)).label("overdue"),
                   func.sum(case((due_today, 1), else_=0)).label("due_today"))
            .where(_open_ids(known, workflows, None if actor.estates is None else sorted(actor.estates)),
                   *permissions.in_estates(actor, items.c.estate_id),
                   visible(actor, known),
                   # Only items with a deadline or the flag can count: the rest are not read further.
                   or_(items.c.overdue.is_(True), items.c.deadline_at <= tomorrow))
            .group_by(items.c.workflow_id))
    titles = _titles(known)
    found = [WorkflowDue(r.workflow_id, titles.get(r.workflow_id, r.workflow_id), int(r.overdue or 0),
                         int(r.due_today or 0)) for r in session.execute(stmt)]
    return tuple(sorted((f for f in found if f.overdue or f.due_today), key=lambda f: (f.title, f.workflow)))


def _reports(session: Session, actor: Actor, zones: dict[str, ZoneInfo], now: datetime,
             registry: Registry, panels: Panels | None, calendars: Calendars) -> tuple[ReportResult, ...]:
    """The first table of each report whose `dashboard:` names one of the actor's roles, default range."""
    today = _today(zones, now)
    results = []
    for report in available(session, actor, registry=registry):
        if not set(report.dashboard) & actor.roles or not report.tables:
            continue
        first = _first_table(report)
        covered = span(report.period, report.periods, today)
        # The person (an executor's sight follows their assignments), where and as what they work,
        # and the report as published: another of these is another panel.
        key = (actor.user_id, tuple(sorted(actor.estates or ())),
               tuple(sorted((e, tuple(sorted(r))) for e, r in actor.estate_roles.items())), first, covered)
        result = panels.get(key, now) if panels is not None else None
        if result is None:
            result = compute(session, actor, first, period=covered, now=now, registry=registry, calendars=calendars)
            if panels is not None:
                panels.put(key, result)
        results.append(result)
    return tuple(results)


def _first_table(report: ReportDefinition) -> ReportDefinition:
    """The report cut to its first table and the measures that table reads (so the history or the
    deadlines are read only when that table needs them)."""
    table = report.tables[0]
    wanted = [*table.measures, *([table.keep_measure] if table.keep_measure else [])]
    for measure_id in list(wanted):
        measure = report.measure(measure_id)
        wanted += [part for part in (measure.numerator, measure.denominator) if part]
    return replace(report, tables=(table,), measures=tuple(m for m in report.measures if m.id in wanted))


def _desk(session: Session, actor: Actor, known: list[visibility.Version], zones: dict[str, ZoneInfo],
          now: datetime) -> DeskFigures:
    """Registered today and this week (by the clerk), open items assigned to them and of those overdue."""
    workflows = sorted({v.definition.id for v in known})
    today = _per_estate(zones, lambda z: _local_start(now.astimezone(z).date(), z))
    monday = _per_estate(zones, lambda z: _local_start(
        now.astimezone(z).date() - timedelta(days=now.astimezone(z).weekday()), z))
    # workflow_id and estate_id lead ix_items_workflow_estate_created: the week's items are read, no more.
    registered = session.execute(
        select(func.count().label("week"), func.sum(case((items.c.created_at >= today, 1), else_=0)).label("today"))
        .where(items.c.workflow_id.in_(workflows), *permissions.in_estates(actor, items.c.estate_id),
               items.c.created_at >= monday, items.c.created_at <= now, items.c.created_by == actor.user_id)).one()
    assigned = session.execute(
        select(func.count().label("open"), func.sum(case((_late(now), 1), else_=0)).label("late"))
        # Two `user` fields may name the same person: the item counts once.
        .where(items.c.id.in_(select(assignees.c.item_id).where(assignees.c.user_id == actor.user_id)),
               *permissions.in_estates(actor, items.c.estate_id), _open(known, workflows),
               visible(actor, known))).one()
    return DeskFigures(registered_today=int(registered.today or 0), registered_this_week=int(registered.week or 0),
                       assigned_open=int(assigned.open or 0), assigned_overdue=int(assigned.late or 0))
