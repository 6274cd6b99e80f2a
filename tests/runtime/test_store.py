"""The store: migrations, SQLite settings, busy databases, numbering, definitions and fields."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from engine.clock import FixedClock, SystemClock
from engine.errors import Conflict
from engine.language import fields
from engine.language.definition import FieldDef
from engine.language.machine import StateGraph
from engine.runtime.registry import REGISTRY, Registry, content_hash, publish_folder
from engine.store.db import make_engine, make_session_factory, transaction
from engine.store.migrate import current_revision, head_revision
from engine.store.models import Base, Estate, WorkflowVersion
from engine.store.queries import next_number

WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "good" / "runtime"


def test_migrations_match_the_models(db):
    # Later migrations chain after 0002 (time limits); the database is at whatever head is.
    assert current_revision(db.engine) == head_revision() is not None
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_runs_in_wal_with_synchronous_full_and_foreign_keys(db):
    if db.backend != "sqlite":
        pytest.skip("SQLite settings")
    with db.engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert (pragma("journal_mode"), pragma("synchronous"), pragma("foreign_keys")) == ("wal", 2, 1)
        assert pragma("busy_timeout") == 5000


def test_a_database_kept_busy_is_a_conflict_not_an_operational_error(db):
    if db.backend != "sqlite":
        pytest.skip("SQLite locking")
    impatient = make_engine(db.url, busy_timeout_ms=50)
    factory = make_session_factory(impatient)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction(db.factory) as session:
            session.execute(text("UPDATE counters SET value = value"))
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    try:
        with pytest.raises(Conflict), transaction(factory) as session:
            session.add(Estate(id="x", name="x"))
    finally:
        release.set()
        holder.join()
        impatient.dispose()
    with make_session_factory(db.engine, readonly=True)() as session:
        assert session.get(Estate, "x") is None


def test_readers_do_not_wait_for_a_writer(db):
    if db.backend != "sqlite":
        pytest.skip("SQLite locking")
    with transaction(db.factory) as writer:
        writer.add(Estate(id="w", name="w"))
        writer.flush()
        with make_session_factory(db.engine, readonly=True)() as reader:
            assert reader.scalars(select(Estate.id)).all() == []


def test_numbers_are_distinct_under_concurrent_writers(db):
    with transaction(db.factory) as session:
        session.add(Estate(id="demo", name="示范"))
    numbers: list[str] = []

    def take() -> None:
        for _ in range(10):
            with transaction(db.factory) as session:
                numbers.append(next_number(session.connection(), "demo", "TS"))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(numbers) == [f"TS-{n:06d}" for n in range(1, 41)]


def test_datetimes_come_back_aware_in_utc(db):
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    with transaction(db.factory) as session:
        session.add(WorkflowVersion(workflow_id="w", version=1, content_hash="h", document={}, roles={},
                                    published_at=moment))
    with db.factory() as session:
        stored = session.scalars(select(WorkflowVersion.published_at)).one()
    assert stored == moment and stored.tzinfo == UTC


def test_publishing_unchanged_content_is_a_no_op(db):
    with transaction(db.factory) as session:
        first = publish_folder(session, WORKFLOWS)
        again = publish_folder(session, WORKFLOWS)
    assert all(p.created for p in first) and not any(p.created for p in again)
    assert [p.id for p in first] == [p.id for p in again]
    with db.factory() as session:
        assert session.scalar(select(WorkflowVersion.version).where(WorkflowVersion.workflow_id == "ticket")) == 1


def test_a_changed_definition_is_a_new_version_and_compiled_once(db):
    from engine.language.loader import compile_document, read_source

    registry = Registry()
    document = read_source(WORKFLOWS / "job.yaml").document
    roles = {"boss": "主管", "worker": "维修工", "clerk": "前台"}
    with transaction(db.factory) as session:
        v1 = registry.publish(session, compile_document(document, roles=roles), roles=roles)
        document["title"] = "派生任务（新）"
        v2 = registry.publish(session, compile_document(document, roles=roles), roles=roles)
    assert (v1.version, v2.version) == (1, 2) and v1.content_hash != v2.content_hash
    with db.factory() as session:
        fresh = Registry()
        assert fresh.compiled(session, v2.id) is fresh.compiled(session, v2.id)
        assert fresh.current(session, "job", "demo").definition.title == "派生任务（新）"
        assert fresh.compiled(session, v1.id).title == "派生任务"


def test_content_hash_ignores_key_order():
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_state_graph_is_one_machine_per_version_without_models(db):
    with transaction(db.factory) as session:
        publish_folder(session, WORKFLOWS)
        current = REGISTRY.current(session, "ticket", "demo")
        graph = REGISTRY.graph(session, current.id)
    assert isinstance(graph, StateGraph) and graph.machine.models == []
    assert graph.triggers("working") == ["remark", "finish", "cancel"]
    assert graph.destinations("working", "finish") == {"closed", "review"}
    assert graph.reachable() == {"open", "working", "review", "closed"}


def test_clocks():
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8))))
    assert clock.now() == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    clock.advance(timedelta(days=3))
    assert clock.now().day == 5
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    assert SystemClock().now().tzinfo == UTC


_F = {t: FieldDef(t, t, t) for t in ("string", "text", "integer", "decimal", "boolean", "date", "datetime",
                                     "phone", "user")}
_F["enum"] = FieldDef("enum", "enum", "enum", options={"a": "甲", "b": "乙"})
_SH = timezone(timedelta(hours=8))


@pytest.mark.parametrize(("kind", "raw", "value"), [
    ("string", " 3-1-502 ", "3-1-502"), ("string", 502, "502"), ("integer", "12", 12), ("integer", 3.0, 3),
    ("decimal", 12.1, Decimal("12.1")), ("decimal", "1,200.50", Decimal("1200.50")), ("decimal", 7, Decimal(7)),
    ("boolean", "是", True), ("boolean", "false", False), ("date", "2026-03-02", date(2026, 3, 2)),
    ("datetime", "2026-03-02T09:30", datetime(2026, 3, 2, 1, 30, tzinfo=UTC)),
    ("datetime", "2026-03-02T09:30:00+08:00", datetime(2026, 3, 2, 1, 30, tzinfo=UTC)),
    ("enum", "a", "a"), ("phone", "+86 138-1234-5678", "13812345678"), ("phone", "0755-12345678", "0755-12345678"),
    ("user", "zhang.san", "zhang.san"), ("text", "", None), ("integer", None, None), ("enum", "  ", None),
])
def test_fields_parse_python_yaml_and_form_values(kind, raw, value):
    assert fields.parse(_F[kind], raw, _SH) == value


@pytest.mark.parametrize(("kind", "raw", "message"), [
    ("integer", "1.5", "不是有效的整数"), ("integer", True, "不是有效的整数"), ("decimal", "NaN", "不是有效的数字"),
    ("boolean", "maybe", "请选择“是”或“否”"), ("date", "2026-02-30", "不是有效的日期（如 2026-03-02）"),
    ("enum", "c", "请选择列表中的选项"), ("phone", "1381234567", "手机号码格式不正确"),
    ("string", "a\nb", "不能换行"), ("datetime", datetime(2026, 3, 2), "时间缺少时区"),
])
def test_fields_refuse_with_a_short_chinese_message(kind, raw, message):
    with pytest.raises(ValueError, match=message):
        fields.parse(_F[kind], raw, None if kind == "datetime" else _SH)


@pytest.mark.parametrize("kind", ["decimal", "date", "datetime", "integer", "boolean"])
def test_fields_json_round_trip(kind):
    value = {"decimal": Decimal("12.50"), "date": date(2026, 3, 2), "integer": 3, "boolean": False,
             "datetime": datetime(2026, 3, 2, 1, 30, tzinfo=UTC)}[kind]
    assert fields.from_json(_F[kind], fields.to_json(_F[kind], value)) == value


def test_personal_fields_are_masked():
    phone = FieldDef("phone", "phone", "电话", personal=True)
    name = FieldDef("name", "string", "姓名", personal=True)
    assert fields.mask(phone, "13812345678") == "138****5678"
    assert fields.mask(name, "张三") == "张*" and fields.mask(name, "欧阳娜娜") == "欧**娜"
    assert fields.mask(_F["phone"], "13812345678") == "13812345678"
