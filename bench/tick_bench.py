"""Tick benchmark (not a test): one tick pass over the same 1,000 due items among 10,000 and 100,000 open ones.

    python bench/tick_bench.py [--due N] [--small N] [--large N] [--runs N] [--pg-url URL]

Each open item has a pending escalation (plus a cancelled row of an earlier state);
N of them are due. The set-up is bulk-inserted with Core; then a tick pass is timed
(the product's SQLite settings: WAL, synchronous=FULL, one transaction per row), the
due rows are reset and the pass timed again, `--runs` times; the median counts. Then the
same on PostgreSQL when reachable (a temporary database, dropped afterwards; `--pg-url ''`
skips it). The cost should follow the rows due, not the items open: the last line is
JSON with both times and `tick_ratio` (large / small), which should stay under 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, delete, insert, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from engine.clock import FixedClock  # noqa: E402
from engine.language.loader import compile_document  # noqa: E402
from engine.runtime.registry import REGISTRY  # noqa: E402
from engine.runtime.tick import tick  # noqa: E402
from engine.store import queries  # noqa: E402
from engine.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from engine.store.migrate import upgrade  # noqa: E402
from engine.store.models import Estate  # noqa: E402

ROLES = {"staff": "员工", "boss": "主管"}
DOCUMENT = {
    "id": "bench", "title": "基准", "number_prefix": "BN", "create_roles": ["staff"],
    "fields": {"unit": {"type": "string", "label": "房号", "required": True}},
    "states": {"open": {"label": "待处理", "initial": True, "sla": [{"within": "1d", "escalate_to": ["boss"]}]},
               "closed": {"label": "已关闭", "final": True}},
    "transitions": [{"name": "close", "label": "关闭", "from": "open", "to": "closed", "roles": ["staff"]}],
}
NOW = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
CHUNK = 10_000


def _populate(engine: object, open_items: int, due: int) -> list[int]:
    """Bulk-insert the items and their rows; returns the ids of the due deadline rows."""
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        session.add(Estate(id="demo", name="示范"))
        session.flush()
        definition_id = REGISTRY.publish(session, compile_document(DOCUMENT, roles=ROLES), roles=ROLES).id
    created = NOW - timedelta(days=1, minutes=1)
    with engine.begin() as db:
        for start in range(0, open_items, CHUNK):
            block = range(start + 1, min(start + CHUNK, open_items) + 1)
            db.execute(insert(queries.items), [
                {"id": n, "estate_id": "demo", "number": f"BN-{n:06d}", "workflow_id": "bench",
                 "definition_id": definition_id, "definition_version": 1, "state": "open",
                 "data": {"unit": f"{n}-1-101"}, "version": 1, "created_at": created, "updated_at": created,
                 "created_by": None, "state_entered_at": created, "overdue": False, "paused_seconds": 0,
                 # The due ones are spread over the items, not the first ids.
                 "deadline_at": created + timedelta(days=1 if n % (open_items // due) == 0 else 30)}
                for n in block])
            db.execute(insert(queries.deadlines), [
                row for n in block for row in (
                    {"item_id": n, "state": "registered", "kind": "escalate", "rule_index": 0,
                     "due_at": created + timedelta(hours=1), "opens_at": None, "roles": ["boss"], "fire": None,
                     "status": "cancelled", "done_at": created},
                    {"item_id": n, "state": "open", "kind": "escalate", "rule_index": 0,
                     "due_at": created + timedelta(days=1 if n % (open_items // due) == 0 else 30),
                     "opens_at": None, "roles": ["boss"], "fire": None, "status": "pending", "done_at": None})])
        ids = db.execute(text("SELECT id FROM item_deadlines WHERE status = 'pending' AND due_at <= :now"),
                         {"now": NOW if engine.dialect.name != "sqlite" else NOW.replace(tzinfo=None)}).scalars()
        return list(ids)


def _reset(engine: object, due_ids: list[int]) -> None:
    with engine.begin() as db:
        db.execute(update(queries.deadlines).where(queries.deadlines.c.id.in_(due_ids))
                   .values(status="pending", done_at=None))
        db.execute(delete(queries.history))
        db.execute(delete(queries.outbox))
        db.execute(update(queries.items).values(overdue=False))
        if db.dialect.name == "postgresql":
            db.execute(text("ANALYZE"))


def _measure(url: str, open_items: int, due: int, runs: int) -> dict[str, float]:
    upgrade(url)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        due_ids = _populate(engine, open_items, due)
        setup = time.perf_counter() - started
        assert len(due_ids) == due, (len(due_ids), due)
        factory = make_session_factory(engine)
        times = []
        for _ in range(runs):
            _reset(engine, due_ids)
            started = time.perf_counter()
            report = tick(factory, FixedClock(NOW))
            times.append(time.perf_counter() - started)
            assert report.escalated == due and report.failed == 0, str(report)
        return {"tick_s": statistics.median(times), "setup_s": setup}
    finally:
        engine.dispose()


def _sqlite(args: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {}
    for label, size in (("small", args.small), ("large", args.large)):
        with tempfile.TemporaryDirectory() as folder:
            measured = _measure(f"sqlite:///{folder}/tick.db", size, args.due, args.runs)
        figures[f"tick_{label}_s"] = round(measured["tick_s"], 3)
        print(f"sqlite  {size:>7} open, {args.due} due: tick {measured['tick_s']:.3f} s "
              f"(set-up {measured['setup_s']:.1f} s)", file=sys.stderr)
    return figures


def _postgresql(args: argparse.Namespace) -> dict[str, float]:
    name = f"estateflow_tickbench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - no server: report SQLite only
        print(f"PostgreSQL skipped: {type(error).__name__}", file=sys.stderr)
        return {}
    figures: dict[str, float] = {}
    try:
        for label, size in (("small", args.small), ("large", args.large)):
            url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            measured = _measure(url, size, args.due, args.runs)
            figures[f"pg_tick_{label}_s"] = round(measured["tick_s"], 3)
            print(f"postgres {size:>7} open, {args.due} due: tick {measured['tick_s']:.3f} s "
                  f"(set-up {measured['setup_s']:.1f} s)", file=sys.stderr)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="timed passes per size (the median counts)")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL server to measure too ('' skips it)")
    args = parser.parse_args()
    figures: dict[str, float] = {"due": args.due, "small": args.small, "large": args.large}
    figures.update(_sqlite(args))
    figures["tick_ratio"] = round(figures["tick_large_s"] / figures["tick_small_s"], 2)
    if args.pg_url:
        pg = _postgresql(args)
        figures.update(pg)
        if pg:
            figures["pg_tick_ratio"] = round(pg["pg_tick_large_s"] / pg["pg_tick_small_s"], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
