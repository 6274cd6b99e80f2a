"""Web UI latency on a big database: list page, item page, a transition POST, and a trivial route.

    python bench/web_bench.py [--items 100000] [--rounds 200] [--keep PATH]
    python bench/web_bench.py --served [--items N] [--clients 4] [--requests 300] [--seconds 20]

`--served` measures the real server instead (bench/web_served.py): `estateflow serve` with 2
gunicorn workers on a temporary PostgreSQL database, under a bounded loopback load. Otherwise:

Builds a SQLite file (migrated, shipped workflows published, the demo seed), bulk-loads
`--items` items spread over every published workflow and state (Core inserts: the
runtime would take minutes; each item still gets its creation history row), then
times requests through Flask's test client, in process, logged in as cs_supervisor:

    floor  GET /_bench/ping  (a trivial route in the same app: the framework's own cost)
    list   GET /items?page=N (all workflows, random page among the first 50)
    item   GET /items/<id>   (random item)
    fire   POST /items/<id>/fire/<name> (an item the user may act on, a step needing no input
                              or with sample values; each POST on a fresh item)

Prints a table, then one JSON line last. A benchmark, not a test: it never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, update  # noqa: E402

from engine.access.actor import load_actor  # noqa: E402
from engine.cli.demo import DEMO_ESTATE, sample, seed, units  # noqa: E402
from engine.language import fields  # noqa: E402
from engine.runtime.items import get_item  # noqa: E402
from engine.runtime.registry import REGISTRY, publish_folder  # noqa: E402
from engine.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from engine.store.migrate import upgrade  # noqa: E402
from engine.store.models import Counter, Item, ItemHistory, User, WorkflowVersion  # noqa: E402
from engine.views import listing  # noqa: E402
from engine.views.inbox import inbox  # noqa: E402
from web import create_app  # noqa: E402

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def build(url: str, count: int) -> None:
    """Migrate, publish, seed the demo, then bulk-load `count` items into the demo estate."""
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        publish_folder(session, ROOT / "workflows")
    seed(factory)
    rng = random.Random(1)
    now = datetime.now(UTC)
    unit_numbers = units()
    with transaction(factory) as session:
        user_id = session.scalars(select(User.id).where(User.username == "frontdesk")).one()
        current = []
        for wid in session.scalars(select(WorkflowVersion.workflow_id).distinct()):
            found = REGISTRY.current(session, wid, DEMO_ESTATE)
            if found is not None:
                current.append(found)
        counters = {c.prefix: c.value for c in session.scalars(select(Counter).where(Counter.estate_id == DEMO_ESTATE))}
        next_id = (session.scalar(select(func.max(Item.id))) or 0) + 1
    batch_items: list[dict[str, Any]] = []
    batch_history: list[dict[str, Any]] = []
    for n in range(count):
        version = current[n % len(current)]
        definition = version.definition
        state = rng.choice(list(definition.states))
        names = listing.create_fields(definition)
        values = {k: sample(definition.fields[k], rng, now, unit_numbers) for k in names
                  if definition.fields[k].required or rng.random() < 0.5}
        data = fields.encode(definition.fields, values)
        prefix = definition.number_prefix
        counters[prefix] = counters.get(prefix, 0) + 1
        created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
        deadline = created + timedelta(days=rng.randint(1, 5)) if rng.random() < 0.3 else None
        batch_items.append({
            "id": next_id, "estate_id": DEMO_ESTATE, "number": f"{prefix}-{counters[prefix]:06d}",
            "workflow_id": definition.id, "definition_id": version.id, "definition_version": version.version,
            "state": state, "data": data, "version": 1, "created_at": created, "updated_at": created,
            "created_by": user_id, "state_entered_at": created, "deadline_at": deadline,
            "overdue": bool(deadline and deadline < now),
        })
        batch_history.append({
            "item_id": next_id, "kind": "transition", "transition": None, "event": None, "from_state": None,
            "to_state": state, "actor_id": user_id, "actor_name": "前台客服", "at": created,
            "changes": {k: [None, v] for k, v in data.items()}, "comment": None,
        })
        next_id += 1
        if len(batch_items) == 5000 or n == count - 1:
            with transaction(factory) as session:
                session.execute(insert(Item), batch_items)
                session.execute(insert(ItemHistory), batch_history)
            batch_items, batch_history = [], []
    with transaction(factory) as session:
        for prefix, value in counters.items():
            session.execute(update(Counter).where(Counter.estate_id == DEMO_ESTATE, Counter.prefix == prefix)
                            .values(value=value))
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def timed(call: Any, rounds: int) -> list[float]:
    """Milliseconds per call, after a short warm-up."""
    for _ in range(min(10, rounds)):
        call()
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def figures(samples: list[float]) -> dict[str, float]:
    """Median and 95th percentile, in ms."""
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2), "n": len(ordered)}


def fire_targets(url: str, wanted: int) -> list[tuple[int, str, int, dict[str, str]]]:
    """Items cs_supervisor may act on now, each with a step and sample values for its form."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rng = random.Random(2)
    found: list[tuple[int, str, int, dict[str, str]]] = []
    now = datetime.now(UTC)
    with factory() as session:
        user_id = session.scalars(select(User.id).where(User.username == "cs_supervisor")).one()
        actor = load_actor(session, user_id)
        page = 1
        while len(found) < wanted:
            rows = inbox(session, actor, page=page, per_page=50, now=now).rows
            if not rows:
                break
            for row in rows:
                item = get_item(session, row.id, actor)
                definition = REGISTRY.compiled(session, item.definition_id)
                for choice in listing.choices(session, item, actor, now=now):
                    # Only steps whose guards hold on the stored values: the POST must succeed.
                    if choice.fireable and "/" not in choice.label:
                        data = {k: str(fields.to_json(definition.fields[k], sample(
                            definition.fields[k], rng, now, units())) or "") for k in choice.fields}
                        data = {k: v[:16] if definition.fields[k].type == "datetime" else v for k, v in data.items()}
                        found.append((item.id, choice.name, item.version, data))
                        break
            page += 1
    engine.dispose()
    return found[:wanted]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--keep", type=Path, default=None, help="Build (or reuse) the database here.")
    parser.add_argument("--served", action="store_true", help="Measure `estateflow serve` on PostgreSQL.")
    parser.add_argument("--workers", type=int, default=2, help="--served: gunicorn workers.")
    parser.add_argument("--clients", type=int, default=4, help="--served: concurrent logged-in clients.")
    parser.add_argument("--requests", type=int, default=300, help="--served: at most N requests per route.")
    parser.add_argument("--seconds", type=float, default=20.0, help="--served: at most N seconds per route.")
    args = parser.parse_args()
    if args.served:
        served(args)
        return
    folder = Path(tempfile.mkdtemp(prefix="estateflow-web-bench-"))
    path = args.keep or folder / "bench.db"
    started = time.perf_counter()
    if not path.exists():
        build(f"sqlite:///{path}", args.items)
    build_s = time.perf_counter() - started
    url = f"sqlite:///{path}"
    app = create_app({"SECRET_KEY": secrets.token_hex(32), "DATABASE_URL": url})
    app.add_url_rule("/_bench/ping", "bench_ping", lambda: "ok")
    client = app.test_client()
    token = _TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert client.post("/login", data={"username": "cs_supervisor", "password": "demo1234",
                                       "csrf_token": token}).status_code == 302
    rng = random.Random(3)
    engine = make_engine(url)
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(Item)).scalar_one()
        max_id = connection.execute(select(func.max(Item.id))).scalar_one()
    engine.dispose()

    def get(path_: str) -> None:
        response = client.get(path_)
        if response.status_code != 200:
            raise SystemExit(f"{path_}: {response.status_code}")

    results = {
        "floor": figures(timed(lambda: get("/_bench/ping"), args.rounds)),
        "list": figures(timed(lambda: get(f"/items?page={rng.randint(1, 50)}"), args.rounds)),
        "list_filtered": figures(timed(
            lambda: get(f"/items?workflow=complaint&state=handling&page={rng.randint(1, 5)}"), args.rounds)),
        "item": figures(timed(lambda: get(f"/items/{rng.randint(1, max_id)}"), args.rounds)),
    }
    targets = fire_targets(url, min(args.rounds, 100) + 10)
    token = _TOKEN.search(client.get("/").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    statuses: dict[int, int] = {}

    def post() -> None:
        item_id, name, version, data = targets.pop()
        response = client.post(f"/items/{item_id}/fire/{name}",
                               data={"csrf_token": token, "version": version, **data})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    results["fire"] = figures(timed(post, len(targets) - 10))
    results["fire"]["statuses"] = statuses  # type: ignore[assignment]
    print(f"{'':8}{'median ms':>12}{'p95 ms':>10}{'n':>6}")
    for name, row in results.items():
        print(f"{name:8}{row['median_ms']:>12}{row['p95_ms']:>10}{row['n']:>6}")
    print(f"database: {total} items, built in {build_s:.1f} s ({path})")
    print(json.dumps({"bench": "web", "items": total, "backend": "sqlite", **results}, ensure_ascii=False))


def served(args: argparse.Namespace) -> None:
    """The served mode: a table, then the JSON line."""
    import web_served  # bench/ is the script's folder, hence on sys.path

    results = web_served.run(args, build, fire_targets)
    print(f"{'':8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'n':>6}{'p50/floor':>11}  statuses")
    for name, row in results.items():
        print(f"{name:8}{row.get('rps', 0):>8}{row.get('p50_ms', 0):>9}{row.get('p95_ms', 0):>9}"
              f"{row.get('p99_ms', 0):>9}{row['n']:>6}{row.get('p50_vs_floor', 0):>11}  {row.get('statuses')}")
    print(json.dumps({"bench": "web_served", "items": args.items, "backend": "postgresql", "server": "gunicorn",
                      "workers": args.workers, "clients": args.clients, **results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
