"""Report benchmark (not a test): the weekly complaint report and the manager dashboard on a big store.

    python bench/report_bench.py [--sizes 100000,1000000] [--runs 5] [--pg-url URL] [--pg-sizes 100000]
                                 [--keep DIR]

For each size it builds a SQLite file (migrated, the shipped workflows and reports published,
estates with buildings, units and staff), bulk-loads the items with executemany (the runtime
would take hours): every published workflow, spread over two years before now with a few per
cent in the last week, ids in creation order; old items mostly closed (creation, a middle step
and the closing step in item_history), young ones mostly open; an escalation row in
item_deadlines for each (met, missed, or pending / fired for open ones, with the items'
deadline_at and overdue flag); the person in charge of complaints and repairs in item_assignees.
A store of N items has N / 20,000 estates (at least five): the timed manager works in the same
five at every size, so the items they count stay as many while the store around them grows
(`--same-estates`: five estates at every size, so their items grow with the store). It times,
median of `--runs` fresh sessions each:

    weekly    complaints_weekly over last week (the shipped report, or an equivalent built here)
    quarter   the same report over last quarter
    dashboard dashboard() of a 客服部经理 working in every estate (overdue / due today, the
              reports on their home page); `dashboard_kept` the same on a repeat visit (the
              report panels kept by a Panels, the counts read again); `desk` a front-desk clerk's

It prints the figures, the items of the manager's estates, the query plans of the statements
that read items, history and deadlines (SQLite EXPLAIN QUERY PLAN; a `SCAN items` there would
read the whole store) and a JSON last line: seconds at each size and the growth ratios (largest
/ smallest size). Time that follows the items counted stays flat while the store grows ten
times; time that follows the store grows like it. PostgreSQL (a database of its own, dropped
afterwards) with `--pg-url` and `--pg-sizes`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, event, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from engine.access.actor import load_actor  # noqa: E402
from engine.cli.demo import sample  # noqa: E402
from engine.language import fields  # noqa: E402
from engine.language.definition import WorkflowDefinition  # noqa: E402
from engine.language.loader import Loader  # noqa: E402
from engine.runtime.registry import REGISTRY, publish_folder  # noqa: E402
from engine.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from engine.store.migrate import upgrade  # noqa: E402
from engine.store.models import (  # noqa: E402
    Building,
    Estate,
    Item,
    ItemAssignee,
    ItemDeadline,
    ItemHistory,
    Unit,
    User,
    UserEstate,
    UserRole,
    WorkflowVersion,
)

ESTATES = {"demo": "阳光花园", "garden": "锦绣园", "plaza": "中心广场", "lakeside": "湖畔雅苑", "hillview": "山景苑"}
"""The estates the timed manager works in (demo, garden, plaza have overlays in workflows/estates)."""
PER_ESTATE = 20_000
"""Items per estate: a bigger store has more estates, so the manager's own items stay as many
(unless --same-estates): what grows is only the store around them."""


def estates_for(count: int, same: bool) -> dict[str, str]:
    """The estates of a store of `count` items: ESTATES, then others up to PER_ESTATE items each."""
    extra = 0 if same else max(0, -(-count // PER_ESTATE) - len(ESTATES))
    return {**ESTATES, **{f"estate{n:03d}": f"第{n}小区" for n in range(1, extra + 1)}}
STAFF = {"frontdesk": 3, "housekeeper": 3, "cs_supervisor": 1, "project_manager": 1, "engineer": 2}
"""Posts per estate (and how many people hold each); one 客服部经理 works in every estate."""
WEIGHTS = {"complaint": 15, "repair": 35, "intake": 20}
"""How common each workflow is (the rest: 3 each)."""
YEARS = 2
RECENT = 0.03
"""The share of items created in the last week (the rest: spread over two years)."""
BATCH = 10_000


# -- building the store ----------------------------------------------------------------------

def _people(session: Any, estates: dict[str, str]) -> dict[str, dict[str, list[tuple[int, str]]]]:
    """Staff per estate and post: (user id, username); the manager (of ESTATES) under '*'."""
    staff: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for estate in estates:
        for role, count in STAFF.items():
            for n in range(count):
                user = User(username=f"{role}{n}@{estate}", display_name=f"{role}{n}（{estates[estate]}）")
                session.add(user)
                session.flush()
                session.add_all([UserEstate(user_id=user.id, estate_id=estate),
                                 UserRole(user_id=user.id, estate_id=estate, role=role)])
                staff.setdefault(estate, {}).setdefault(role, []).append((user.id, user.username))
    manager = User(username="cs_manager", display_name="客服部经理")
    session.add(manager)
    session.flush()
    for estate in ESTATES:
        session.add_all([UserEstate(user_id=manager.id, estate_id=estate),
                         UserRole(user_id=manager.id, estate_id=estate, role="cs_manager")])
    staff["*"] = {"cs_manager": [(manager.id, "cs_manager")]}
    return staff


def _units(session: Any, estates: dict[str, str]) -> dict[str, list[tuple[int, str]]]:
    """Per estate: (unit id, number) of 6 buildings × 2 entrances × 18 floors × 4 flats."""
    found: dict[str, list[tuple[int, str]]] = {}
    for estate in estates:
        for b in range(1, 7):
            building = Building(estate_id=estate, name=f"{b}栋")
            session.add(building)
            session.flush()
            rows = [{"estate_id": estate, "building_id": building.id, "number": f"{b}-{e}-{f}{n:02d}", "tags": []}
                    for e in (1, 2) for f in range(1, 19) for n in range(1, 5)]
            session.execute(insert(Unit), rows)
        found[estate] = [(r.id, r.number) for r in session.execute(
            select(Unit.id, Unit.number).where(Unit.estate_id == estate))]
    return found


class Shape:
    """What a workflow's items look like: states, the steps to close, sample data."""

    def __init__(self, version_id: int, version: int, definition: WorkflowDefinition, rng: random.Random,
                 now: datetime) -> None:
        self.id, self.version, self.definition = version_id, version, definition
        states = definition.states
        self.initial = next(n for n, s in states.items() if s.initial)
        self.finals = [n for n, s in states.items() if s.final]
        self.open = [n for n, s in states.items() if not s.final]
        # Closing steps: a transition into a final state, and one from the initial state to its source.
        self.closing = [(t.name, src, t.dest) for t in definition.transitions if states[t.dest].final
                        for src in t.sources if not states[src].final]
        self.user = next((n for n, f in definition.fields.items() if f.type == "user"), None)
        intake = [n for n, f in definition.fields.items() if f.required or f.type in ("enum", "unit")]
        self.unit_field = next((n for n in intake if definition.fields[n].type == "unit"), None)
        self.samples = []
        for _ in range(40):
            values = {n: sample(definition.fields[n], rng, now, ["1-1-101"]) for n in intake
                      if definition.fields[n].type not in ("user", "file")}
            self.samples.append(fields.encode(definition.fields, {k: v for k, v in values.items() if v is not None}))

    def step_into(self, state: str) -> str:
        """The name of a transition from the initial state into `state` (or a stand-in)."""
        return next((t.name for t in self.definition.transitions if t.dest == state and self.initial in t.sources),
                    "bench")


def _shapes(session: Any, estates: dict[str, str], rng: random.Random, now: datetime) -> dict[str, dict[str, Shape]]:
    """Per estate, per workflow: the current published version's shape (overlays included)."""
    ids = sorted(session.scalars(select(WorkflowVersion.workflow_id).distinct()))
    shapes: dict[str, dict[str, Shape]] = {}
    cache: dict[int, Shape] = {}
    for estate in estates:
        for wid in ids:
            current = REGISTRY.current(session, wid, estate)
            if current is None or not current.definition.states:
                continue
            if current.id not in cache:
                cache[current.id] = Shape(current.id, current.version, current.definition, rng, now)
            shapes.setdefault(estate, {})[wid] = cache[current.id]
    return shapes


def _created(rng: random.Random, now: datetime) -> datetime:
    if rng.random() < RECENT:
        return now - timedelta(seconds=rng.randint(60, 7 * 86400))
    return now - timedelta(seconds=rng.randint(60, YEARS * 365 * 86400))


def build(url: str, count: int, now: datetime, *, same_estates: bool = False, seed: int = 1) -> dict[str, Any]:
    """Migrate, publish, add estates and staff, then bulk-load `count` items; returns how long each part took."""
    started = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rng = random.Random(seed)
    with transaction(factory) as session:
        estates = estates_for(count, same_estates)
        session.add_all([Estate(id=e, name=n) for e, n in estates.items()])
        session.flush()
        loader = Loader(ROOT / "workflows")  # one loader: each workflow file is read and compiled once
        publish_folder(session, ROOT / "workflows", now=now - timedelta(days=YEARS * 366), loader=loader)
        _publish_reports(session, now, loader)
        staff = _people(session, estates)
        units = _units(session, estates)
        shapes = _shapes(session, estates, rng, now)
    prepared = time.perf_counter()
    names = {wid: WEIGHTS.get(wid, 3) for wid in shapes["demo"]}
    workflows, weights = list(names), list(names.values())
    counters: dict[tuple[str, str], int] = {}
    batches: dict[str, list[dict[str, Any]]] = {"items": [], "history": [], "deadlines": [], "assignees": []}
    first: dict[str, Any] = {}
    # Ids follow creation, as in a real store (and the indexes on created_at grow at their end).
    moments = sorted(_created(rng, now) for _ in range(count))
    places = list(estates)
    with _writer(engine) as write:
        for n, created in enumerate(moments, start=1):
            estate = rng.choice(places)
            shape = shapes[estate][rng.choices(workflows, weights)[0]]
            _item(n, created, estate, shape, staff[estate], units[estate], counters, batches, rng, now)
            first = first or dict(batches["items"][0])
            if len(batches["items"]) >= BATCH or n == count:
                write(batches)
    _check_first(engine, first)
    loaded = time.perf_counter()
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    engine.dispose()
    return {"prepare_s": round(prepared - started, 1), "load_s": round(loaded - prepared, 1),
            "analyze_s": round(time.perf_counter() - loaded, 1)}


def _item(n: int, created: datetime, estate: str, shape: Shape, staff: dict[str, list[tuple[int, str]]],
          units: list[tuple[int, str]], counters: dict[tuple[str, str], int],
          batches: dict[str, list[dict[str, Any]]], rng: random.Random, now: datetime) -> None:
    """One item with its history, its escalation row and its person in charge."""
    definition = shape.definition
    age = now - created
    # Old items are closed but for a few stuck ones (a long renovation, a dunning case); this week's are mostly open.
    closed = bool(shape.closing) and rng.random() < next(
        share for days, share in ((90, 0.995), (30, 0.95), (2, 0.6), (0, 0.15)) if age >= timedelta(days=days))
    creator_id, _ = rng.choice(staff["frontdesk"] + staff["housekeeper"])
    data = dict(rng.choice(shape.samples))
    unit_id = None
    if shape.unit_field:
        unit_id, number = rng.choice(units)
        data[shape.unit_field] = number
    assignee = None
    if shape.user and shape.definition.id in ("complaint", "repair"):
        assignee = rng.choice(staff["housekeeper"] + staff["engineer"])
        data[shape.user] = assignee[1]
    key = (estate, definition.number_prefix)
    counters[key] = counters.get(key, 0) + 1
    history = batches["history"]
    history.append({"item_id": n, "kind": "transition", "transition": None, "event": None, "from_state": None,
                    "to_state": shape.initial, "actor_id": creator_id, "actor_name": "前台", "at": created,
                    "changes": {}, "comment": None})
    due = created + timedelta(hours=rng.choice((1, 4, 24, 48, 72)))
    deadline_at, overdue = None, False
    if closed:
        name, source, final = rng.choice(shape.closing)
        entered = created + timedelta(minutes=rng.randint(5, 60 * 24 * 6))
        entered = min(entered, now - timedelta(seconds=1))
        middle = created + (entered - created) / 3
        if source != shape.initial:
            history.append({"item_id": n, "kind": "transition", "transition": shape.step_into(source), "event": None,
                            "from_state": shape.initial, "to_state": source, "actor_id": creator_id,
                            "actor_name": "前台", "at": middle, "changes": {}, "comment": None})
        history.append({"item_id": n, "kind": "transition", "transition": name, "event": None, "from_state": source,
                        "to_state": final, "actor_id": creator_id, "actor_name": "主管", "at": entered,
                        "changes": {}, "comment": None})
        state, version = final, 2 + (source != shape.initial)
        left = middle if source != shape.initial else entered
        status, done_at = ("done", due) if left > due else ("cancelled", left)
    else:
        state = rng.choice(shape.open)
        entered = created if state == shape.initial else created + (now - created) / 2
        if state != shape.initial:
            history.append({"item_id": n, "kind": "transition", "transition": shape.step_into(state), "event": None,
                            "from_state": shape.initial, "to_state": state, "actor_id": creator_id,
                            "actor_name": "前台", "at": entered, "changes": {}, "comment": None})
        version = 1 + (state != shape.initial)
        due = entered + timedelta(hours=rng.choice((1, 4, 24, 48, 72, 168)))
        status, done_at = ("done", due) if due <= now else ("pending", None)
        deadline_at, overdue = (None, True) if status == "done" else (due, False)
    batches["items"].append({
        "id": n, "estate_id": estate, "number": f"{definition.number_prefix}-{counters[key]:07d}",
        "workflow_id": definition.id, "definition_id": shape.id, "definition_version": shape.version,
        "state": state, "data": data, "version": version, "created_at": created, "updated_at": entered,
        "created_by": creator_id, "state_entered_at": entered, "deadline_at": deadline_at, "overdue": overdue,
        "paused_seconds": 0, "unit_id": unit_id, "department": None,
    })
    batches["deadlines"].append({
        "item_id": n, "state": shape.initial if closed else state, "kind": "escalate", "rule_index": 0,
        "due_at": due, "opens_at": None, "roles": ["cs_supervisor"], "fire": None, "status": status,
        "done_at": done_at,
    })
    if assignee is not None:
        batches["assignees"].append({"item_id": n, "field": shape.user, "user_id": assignee[0]})


@contextmanager
def _writer(engine: Engine) -> Iterator[Callable[[dict[str, list[dict[str, Any]]]], None]]:
    """A function writing a batch of rows (then emptying it), one transaction per batch."""
    tables = ((Item, "items"), (ItemHistory, "history"), (ItemDeadline, "deadlines"), (ItemAssignee, "assignees"))
    if engine.dialect.name != "sqlite":
        def write(batches: dict[str, list[dict[str, Any]]]) -> None:
            with engine.begin() as connection:
                for model, key in tables:
                    if batches[key]:
                        connection.execute(insert(model), batches[key])
            for rows in batches.values():
                rows.clear()

        yield write
        return
    # SQLite: the driver's executemany with the values as SQLAlchemy stores them (Core's per-value
    # processing was most of the build; _check_first proves an item reads back the same).
    raw = sqlite3.connect(engine.url.database or "", isolation_level=None)
    raw.execute("PRAGMA synchronous = OFF")       # a throwaway file: no fsync per batch
    raw.execute("PRAGMA cache_size = -524288")    # 512 MB: the indexes stay in memory while they grow

    def write_sqlite(batches: dict[str, list[dict[str, Any]]]) -> None:
        raw.execute("BEGIN")
        for model, key in tables:
            rows = batches[key]
            if rows:
                columns = list(rows[0])
                raw.executemany(f"INSERT INTO {model.__tablename__} ({', '.join(columns)}) "
                                f"VALUES ({', '.join('?' * len(columns))})",
                                [tuple(_stored(row[c]) for c in columns) for row in rows])
        raw.execute("COMMIT")
        for rows in batches.values():
            rows.clear()

    try:
        yield write_sqlite
    finally:
        raw.close()


def _stored(value: Any) -> Any:
    """A value as SQLAlchemy stores it in SQLite (UTCDateTime: naive UTC text; JSON: text; booleans: 0/1)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return int(value)
    return value


def _check_first(engine: Engine, first: dict[str, Any]) -> None:
    """The first item reads back through SQLAlchemy as it was written (the raw SQLite path is right)."""
    with engine.connect() as connection:
        row = connection.execute(select(Item.__table__).where(Item.id == first["id"])).one()._mapping
    wrong = {k: (v, row[k]) for k, v in first.items() if row[k] != v}
    if wrong:
        raise SystemExit(f"the bulk load stored item {first['id']} wrongly: {wrong}")


# -- the report ------------------------------------------------------------------------------

def _publish_reports(session: Any, now: datetime, loader: Loader) -> None:
    """The shipped reports, once helper modules exist (engine.reports.published)."""
    try:
        from engine.reports.published import publish_reports
    except ImportError:
        return
    publish_reports(session, ROOT / "workflows", now=now - timedelta(days=YEARS * 366), loader=loader)


def weekly_report(session: Any) -> Any:
    """complaints_weekly as published, else an equivalent (新增, 办结, 未结, 超时 by category and more)."""
    try:
        from engine.reports.published import current

        found = current(session, "complaints_weekly")
        if found is not None:
            return found
    except ImportError:
        pass
    from engine.reports.definition import Dimension, Event, Measure, ReportDefinition, Table

    measures = (Measure("received", "新增", "count", Event("created")),
                Measure("closed", "办结", "count", Event("closed")),
                Measure("open", "未结", "count", Event("open")),
                Measure("overdue", "超时", "count", Event("missed")))
    columns = ("received", "closed", "open", "overdue")
    return ReportDefinition(
        id="complaints_weekly", title="投诉周报", workflows=("complaint",), measures=measures,
        tables=(Table("按投诉类别", Dimension("field", field="category", label="投诉类别"), columns),
                Table("按投诉级别", Dimension("field", field="severity", label="投诉级别"), columns),
                Table("按楼栋", Dimension("building", label="楼栋"), columns),
                Table("重复投诉", Dimension("unit", label="房号"), ("received",), keep_measure="received",
                      keep_at_least=2, limit=20, total=False)),
        period="week", periods=1)


# -- timing ----------------------------------------------------------------------------------

@contextmanager
def recorded(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with parameters) issued meanwhile."""
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if not many:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def median_seconds(call: Callable[[], Any], runs: int) -> float:
    call()  # warm: definitions compiled, pages cached
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples), 4)


def plans(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """SQLite's plan of each distinct statement reading items (or their history, deadlines)."""
    if engine.dialect.name != "sqlite":
        return []
    out: list[str] = []
    done: set[str] = set()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            head = statement.lstrip().upper()
            if not head.startswith("SELECT") or statement in done or not any(
                    t in statement for t in ("FROM items", "JOIN items", "item_history", "item_deadlines")):
                continue
            done.add(statement)
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            steps = [str(row[-1]) for row in cursor.fetchall()]
            out.append(" | ".join(steps) + "  <=  " + " ".join(statement.split())[:160])
    finally:
        raw.close()
    return out


def measure(url: str, runs: int, now: datetime) -> dict[str, Any]:
    """Seconds (median) of the weekly report, the quarter, and the dashboards; the items each period holds."""
    from engine.reports.dashboard import Panels, dashboard
    from engine.reports.periods import named

    engine = make_engine(url)
    factory = make_session_factory(engine, readonly=True)
    today = now.astimezone(_zone()).date()
    week, quarter = named("last-week", today), named("last-quarter", today)
    with factory() as session:
        manager = load_actor(session, session.scalars(select(User.id).where(User.username == "cs_manager")).one())
        desk = load_actor(session, session.scalars(select(User.id).where(User.username == "frontdesk0@demo")).one())
        report = weekly_report(session)
        total = session.scalar(select(func.count()).select_from(Item))
        mine = session.scalar(select(func.count()).select_from(Item).where(Item.estate_id.in_(ESTATES)))
        in_week = _created_between(session, week.start, week.end)
        in_quarter = _created_between(session, quarter.start, quarter.end)
    figures: dict[str, Any] = {"items": total, "manager_items": mine, "complaints_last_week": in_week,
                               "complaints_last_quarter": in_quarter}
    try:
        from engine.reports.compute import compute
    except ImportError:
        compute = None
    calls: dict[str, Callable[[], Any]] = {}
    if compute is not None:
        calls["weekly"] = lambda: _in_session(factory, lambda s: compute(s, manager, report, period=week, now=now))
        calls["quarter"] = lambda: _in_session(factory, lambda s: compute(s, manager, report, period=quarter, now=now))
    calls["dashboard"] = lambda: _in_session(factory, lambda s: dashboard(s, manager, now=now))
    panels = Panels()  # a repeat visit within five minutes: the report panels are kept, the counts read again
    calls["dashboard_kept"] = lambda: _in_session(factory, lambda s: dashboard(s, manager, now=now, panels=panels))
    calls["desk"] = lambda: _in_session(factory, lambda s: dashboard(s, desk, now=now))
    figures["plans"] = {}
    for name, call in calls.items():
        figures[f"{name}_s"] = median_seconds(call, runs)
        with recorded(engine) as seen:
            call()
        figures[f"{name}_statements"] = len(seen)
        figures["plans"][name] = plans(engine, seen)
    engine.dispose()
    figures["load_avg_1m"] = round(os.getloadavg()[0], 2)
    return figures


def _zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def _created_between(session: Any, start: date, end: date) -> int:
    zone = _zone()
    low = datetime.combine(start, datetime.min.time(), zone)
    high = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone)
    return int(session.scalar(select(func.count()).select_from(Item).where(
        Item.workflow_id == "complaint", Item.estate_id.in_(ESTATES), Item.created_at >= low, Item.created_at < high)))


def _in_session(factory: Any, call: Callable[[Any], Any]) -> Any:
    with factory() as session:
        return call(session)


# -- the runs --------------------------------------------------------------------------------

def run_sizes(sizes: list[int], runs: int, make_url_for: Callable[[int], tuple[str, bool]], label: str,
              now: datetime, same_estates: bool) -> dict[int, dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        url, ready = make_url_for(size)
        started = time.perf_counter()
        parts = {"reused": True} if ready else build(url, size, now, same_estates=same_estates)
        built = round(time.perf_counter() - started, 1)
        print(f"{label} {size:>9,} items: built in {built} s {parts}", flush=True)
        figures = measure(url, runs, now)
        figures["build_s"] = built
        results[size] = figures
        shown = {k: v for k, v in figures.items() if k != "plans"}
        print(f"{label} {size:>9,} items: {shown}", flush=True)
        for name, lines in figures["plans"].items():
            for line in lines:
                print(f"    plan {name}: {line}")
    return results


def summary(results: dict[int, dict[str, Any]], prefix: str) -> dict[str, Any]:
    """Seconds per size and the growth ratio (largest size / smallest) of each timed call."""
    out: dict[str, Any] = {}
    sizes = sorted(results)
    for size in sizes:
        figures = results[size]
        for key, value in figures.items():
            if key.endswith(("_s", "_statements")) or key.startswith("complaints_") or key == "manager_items":
                out[f"{prefix}{key.removesuffix('_s')}_{'s_' if key.endswith('_s') else ''}{size}"] = value
    if len(sizes) > 1:
        low, high = results[sizes[0]], results[sizes[-1]]
        out[f"{prefix}store_growth"] = round(high["items"] / low["items"], 2)
        for key in ("weekly_s", "quarter_s", "dashboard_s", "dashboard_kept_s", "desk_s"):
            if key in low and low[key]:
                out[f"{prefix}{key.removesuffix('_s')}_growth"] = round(high[key] / low[key], 2)
        if low["complaints_last_week"]:
            out[f"{prefix}week_items_growth"] = round(high["complaints_last_week"] / low["complaints_last_week"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="item counts, comma-separated (SQLite)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per call (the median is kept)")
    parser.add_argument("--keep", type=Path, default=None, help="build the SQLite files in this folder")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: time the files built there before (their `now` is kept with them)")
    parser.add_argument("--pg-url", default="", help="a PostgreSQL server to create a temporary database on")
    parser.add_argument("--pg-sizes", default="100000", help="item counts on PostgreSQL")
    parser.add_argument("--same-estates", action="store_true",
                        help="keep the five estates at every size (the manager's items grow with the store)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="estateflow-report-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    # The store is built around `now`; a reused one is timed at the `now` it was built for.
    stamp = folder / "now.txt"
    if args.reuse and stamp.exists():
        now = datetime.fromisoformat(stamp.read_text().strip())
    else:
        now = datetime.now(UTC).replace(microsecond=0)
        stamp.write_text(now.isoformat())

    def sqlite_url(size: int) -> tuple[str, bool]:
        path = folder / f"report-{size}.db"
        if args.reuse and path.exists():
            return f"sqlite:///{path}", True
        path.unlink(missing_ok=True)
        for extra in ("-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
        return f"sqlite:///{path}", False

    results = run_sizes(sizes, args.runs, sqlite_url, "SQLite", now, args.same_estates)
    # Timings on a busy machine are slower and noisier: the load is printed with them.
    line: dict[str, Any] = {"bench": "report", "backend": "sqlite", "load_avg_1m": round(os.getloadavg()[0], 2),
                            **summary(results, "")}
    if args.pg_url:
        line.update(_postgresql(args.pg_url, [int(s) for s in args.pg_sizes.split(",") if s], args.runs, now,
                                args.same_estates))
    print(json.dumps(line, ensure_ascii=False))


def _postgresql(url: str, sizes: list[int], runs: int, now: datetime, same_estates: bool) -> dict[str, Any]:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def pg_url(_size: int) -> tuple[str, bool]:
        name = f"estateflow_report_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return make_url(url).set(database=name).render_as_string(hide_password=False), False

    try:
        return summary(run_sizes(sizes, runs, pg_url, "PostgreSQL", now, same_estates), "pg_")
    except Exception as error:  # noqa: BLE001 - no server: skip, say why
        print(f"PostgreSQL skipped: {type(error).__name__}: {error}")
        return {"pg_skipped": type(error).__name__}
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
