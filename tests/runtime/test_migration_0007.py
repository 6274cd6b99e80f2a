"""Migration 0007 adds item_history.branch: rows stored before keep everything and read null.

The timeline then names those rows' steps by name, from and to state (tests/runtime/test_branches.py);
a downgrade drops the column and keeps the rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import create_engine, inspect, text

from engine.store.migrate import alembic_config, upgrade

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC).isoformat(" ")


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_branch_is_added_null_for_stored_rows_and_dropped_on_downgrade(empty_url):
    upgrade(empty_url, "0006")
    engine = create_engine(empty_url)
    with engine.begin() as db:
        db.execute(text("INSERT INTO estates (id, name, timezone) VALUES ('demo', '阳光花园', 'Asia/Shanghai')"))
        db.execute(text("INSERT INTO workflow_versions (id, workflow_id, estate_id, version, content_hash, document, "
                        "roles, published_at) VALUES (1, 'fix', '', 1, 'h', '{}', '{}', :now)"), {"now": NOW})
        db.execute(text(
            "INSERT INTO items (id, estate_id, number, workflow_id, definition_id, definition_version, state, "
            "data, version, created_at, updated_at, state_entered_at) VALUES "
            "(1, 'demo', 'BX-1', 'fix', 1, 1, 'done', '{}', 2, :now, :now, :now)"), {"now": NOW})
        db.execute(text("INSERT INTO item_history (item_id, kind, transition, from_state, to_state, actor_name, at, "
                        "changes) VALUES (1, 'transition', 'close', 'new', 'done', '前台', :now, '{}')"),
                   {"now": NOW})
    upgrade(empty_url, "0007")
    assert "branch" in _columns(engine, "item_history")
    with engine.begin() as db:
        assert db.execute(text("SELECT transition, branch FROM item_history")).all() == [("close", None)]
        db.execute(text("INSERT INTO item_history (item_id, kind, transition, from_state, to_state, actor_name, at, "
                        "changes, branch) VALUES (1, 'transition', 'close', 'new', 'done', '前台', :now, '{}', 3)"),
                   {"now": NOW})
    command.downgrade(alembic_config(empty_url), "0006")
    assert "branch" not in _columns(engine, "item_history")
    with engine.connect() as db:
        assert db.execute(text("SELECT count(*) FROM item_history")).scalar_one() == 2
    engine.dispose()
