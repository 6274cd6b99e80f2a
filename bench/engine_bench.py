"""Engine benchmark (not a test): firing persisted transitions vs. the bare SQL they need.

    python bench/engine_bench.py [--transitions N] [--pg-url URL]

On one database file with the product's own PRAGMAs (WAL, synchronous=FULL, BEGIN
IMMEDIATE), it measures (a) `runtime.fire` on existing items, one transaction each,
and (b) a baseline of plain SQLAlchemy Core running the statements one transition
needs (read the item, update it with a version check, insert one history row, one
transaction each); then the same on PostgreSQL when reachable (a temporary database,
dropped afterwards), and the time to load, validate and compile all of workflows/.
The last line is JSON: engine_tps, raw_tps, engine_vs_raw (+ pg_*), load_compile_s, and
nosync_* (SQLite with synchronous=OFF: where fsync no longer hides the engine's CPU cost).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, create_engine, event, insert, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from engine.access.actor import Actor  # noqa: E402
from engine.language.loader import compile_document  # noqa: E402
from engine.runtime.items import create, fire  # noqa: E402
from engine.runtime.registry import REGISTRY  # noqa: E402
from engine.store.db import make_engine, make_session_factory, transaction  # noqa: E402
from engine.store.migrate import upgrade  # noqa: E402
from engine.store.models import Estate, Item, ItemHistory  # noqa: E402

ROLES = {"staff": "员工"}
DOCUMENT = {
    "id": "bench", "title": "基准", "number_prefix": "BN", "create_roles": ["staff"],
    "fields": {
        "unit": {"type": "string", "label": "房号", "required": True},
        "severity": {"type": "enum", "label": "级别", "options": {"minor": "轻微", "major": "重大"}},
        "note": {"type": "text", "label": "备注"},
    },
    "states": {"open": {"label": "待处理", "initial": True}, "working": {"label": "处理中"},
               "closed": {"label": "已关闭", "final": True}},
    "transitions": [
        {"name": "work", "label": "处理", "from": "open", "to": "working", "roles": ["staff"],
         "when": "severity != 'major'"},
        {"name": "work", "label": "处理（重大）", "from": "open", "to": "working", "roles": ["staff"]},
        {"name": "pause", "label": "暂停", "from": "working", "to": "open", "roles": ["staff"]},
        {"name": "close", "label": "关闭", "from": "working", "to": "closed", "roles": ["staff"]},
    ],
}
ITEMS = 100


def _prepare(url: str, nosync: bool) -> tuple[object, object, list[int], Actor]:
    upgrade(url)
    engine = make_engine(url)
    if nosync:
        # Runs after the product's own connect hook: takes fsync out to show the CPU cost alone.
        event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA synchronous = OFF"))
    factory = make_session_factory(engine)
    actor = Actor(None, "基准", frozenset({"staff"}), frozenset({"demo"}))
    with transaction(factory) as session:
        session.add(Estate(id="demo", name="示范"))
        session.flush()
        REGISTRY.publish(session, compile_document(DOCUMENT, roles=ROLES), roles=ROLES)
    ids = []
    for n in range(ITEMS):
        with transaction(factory) as session:
            ids.append(create(session, workflow="bench", estate="demo", actor=actor,
                              data={"unit": f"{n}-1-101", "severity": "minor"}).id)
    return engine, factory, ids, actor


def _engine_run(factory: object, ids: list[int], actor: Actor, count: int, versions: dict[int, int]) -> float:
    start = time.perf_counter()
    for n in range(count):
        item_id = ids[n % len(ids)]
        name = "work" if versions[item_id] % 2 else "pause"
        with transaction(factory) as session:  # type: ignore[arg-type]
            item = fire(session, item_id, name, actor, {"note": f"第{n}次"}, None, versions[item_id])
        versions[item_id] = item.version
    return count / (time.perf_counter() - start)


def _raw_run(engine: object, ids: list[int], count: int, versions: dict[int, int]) -> float:
    items, history = Item.__table__, ItemHistory.__table__
    # Statements built once with bound parameters: the fastest way Core offers.
    read = select(items).where(items.c.id == bindparam("item_id"))
    change = (
        update(items)
        .where(items.c.id == bindparam("item_id"), items.c.version == bindparam("seen"))
        .values(state=bindparam("new_state"), data=bindparam("new_data"), version=bindparam("new_version"),
                updated_at=bindparam("now"))
    )
    record = insert(history)
    start = time.perf_counter()
    for n in range(count):
        item_id = ids[n % len(ids)]
        now = datetime.now(UTC)
        with engine.begin() as connection:  # type: ignore[attr-defined]
            row = connection.execute(read, {"item_id": item_id}).one()
            target = "working" if row.state == "open" else "open"
            data = {**row.data, "note": f"第{n}次"}
            result = connection.execute(change, {"item_id": item_id, "seen": row.version, "new_state": target,
                                                 "new_data": data, "new_version": row.version + 1, "now": now})
            assert result.rowcount == 1
            connection.execute(record, {
                "item_id": item_id, "kind": "transition", "transition": "raw", "event": None,
                "from_state": row.state, "to_state": target, "actor_id": None, "actor_name": "基准", "at": now,
                "changes": {"note": [row.data.get("note"), data["note"]]}, "comment": None,
            })
        versions[item_id] = row.version + 1
    return count / (time.perf_counter() - start)


def measure(url: str, count: int, nosync: bool = False) -> dict[str, float]:
    """Best of two alternating rounds of each, after a warm-up."""
    engine, factory, ids, actor = _prepare(url, nosync)
    versions = {i: 1 for i in ids}
    try:
        _engine_run(factory, ids, actor, min(200, count), versions)
        _raw_run(engine, ids, min(200, count), versions)
        engine_tps = raw_tps = 0.0
        for _ in range(2):
            raw_tps = max(raw_tps, _raw_run(engine, ids, count, versions))
            engine_tps = max(engine_tps, _engine_run(factory, ids, actor, count, versions))
    finally:
        engine.dispose()  # type: ignore[attr-defined]
    return {"engine_tps": round(engine_tps, 1), "raw_tps": round(raw_tps, 1),
            "engine_vs_raw": round(engine_tps / raw_tps, 3)}


def load_compile_seconds() -> float | str:
    """Time to load, validate and compile every definition and overlay of workflows/."""
    from engine.errors import DefinitionError
    from engine.language.loader import Loader, base_files, estates_with_overlays

    folder = ROOT / "workflows"
    start = time.perf_counter()
    try:
        loader = Loader(folder)
        for path in base_files(folder):
            loader.load(path)
        for estate, ids in estates_with_overlays(folder).items():
            for workflow_id in ids:
                loader.load(folder / f"{workflow_id}.yaml", estate=estate)
    except DefinitionError as error:
        return f"workflows/ has {len(error.problems)} problem(s)"
    return round(time.perf_counter() - start, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=3000, help="transitions per measured run (SQLite)")
    parser.add_argument("--pg-transitions", type=int, default=600)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL server to create a temporary database on ('' to skip)")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        sqlite = measure(f"sqlite:///{folder}/bench.db", args.transitions)
    print(f"SQLite: engine {sqlite['engine_tps']}/s, raw Core {sqlite['raw_tps']}/s, ratio {sqlite['engine_vs_raw']}")
    figures.update(sqlite)
    with tempfile.TemporaryDirectory() as folder:
        cpu = measure(f"sqlite:///{folder}/bench.db", args.transitions, nosync=True)
    print(f"SQLite with synchronous=OFF (CPU cost only, not the product's setting): engine {cpu['engine_tps']}/s, "
          f"raw Core {cpu['raw_tps']}/s, ratio {cpu['engine_vs_raw']}")
    figures.update({f"nosync_{key}": value for key, value in cpu.items()})
    if args.pg_url:
        figures.update(_postgresql(args.pg_url, args.pg_transitions))
    figures["load_compile_s"] = load_compile_seconds()
    print(f"load + validate + compile workflows/: {figures['load_compile_s']}")
    print(json.dumps(figures, ensure_ascii=False))


def _postgresql(url: str, count: int) -> dict[str, object]:
    name = f"estateflow_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - no server: skip, say why
        print(f"PostgreSQL skipped: {type(error).__name__}")
        return {"pg_skipped": type(error).__name__}
    try:
        figures = measure(make_url(url).set(database=name).render_as_string(hide_password=False), count)
        print(f"PostgreSQL: engine {figures['engine_tps']}/s, raw Core {figures['raw_tps']}/s, "
              f"ratio {figures['engine_vs_raw']}")
        return {f"pg_{key}": value for key, value in figures.items()}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
