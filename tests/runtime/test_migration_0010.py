"""Migration 0010 (reports): the outbox's stored messages survive while item_id becomes optional.

After it a report e-mailed by `estateflow report send` is an outbox row of no item with its XLSX
attached; a downgrade drops those rows (they have no item to hang on) and keeps the others.
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import create_engine, inspect, text

from engine.store.migrate import alembic_config, upgrade

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC).isoformat(" ")
_MESSAGE = ("INSERT INTO outbox (item_id, estate_id, created_at, role, subject, body, status, attempts{extra}) "
            "VALUES ({item}, 'demo', :now, 'cs_supervisor', :subject, '正文', 'pending', 0{values})")


def test_stored_messages_survive_and_report_mails_need_no_item(empty_url):
    upgrade(empty_url, "0009")
    engine = create_engine(empty_url)
    with engine.begin() as db:
        db.execute(text("INSERT INTO estates (id, name, timezone) VALUES ('demo', '阳光花园', 'Asia/Shanghai')"))
        db.execute(text("INSERT INTO workflow_versions (id, workflow_id, estate_id, version, content_hash, document, "
                        "roles, published_at) VALUES (1, 'fix', '', 1, 'h', '{}', '{}', :now)"), {"now": NOW})
        db.execute(text(
            "INSERT INTO items (id, estate_id, number, workflow_id, definition_id, definition_version, state, "
            "data, version, created_at, updated_at, state_entered_at) VALUES "
            "(1, 'demo', 'BX-1', 'fix', 1, 1, 'done', '{}', 2, :now, :now, :now)"), {"now": NOW})
        db.execute(text(_MESSAGE.format(extra="", item="1", values="")), {"now": NOW, "subject": "报修 BX-1"})
    upgrade(empty_url, "0010")
    assert "ix_items_workflow_estate_state" in {i["name"] for i in inspect(engine).get_indexes("items")}
    with engine.begin() as db:
        assert db.execute(text("SELECT item_id, subject, attachment_name FROM outbox")).all() == [
            (1, "报修 BX-1", None)]
        db.execute(text(_MESSAGE.format(extra=", attachment_name, attachment", item="NULL",
                                        values=", '投诉周报.xlsx', :file")),
                   {"now": NOW, "subject": "投诉周报", "file": b"PK\x03\x04"})
        assert db.execute(text("SELECT attachment FROM outbox WHERE item_id IS NULL")).scalar_one() == b"PK\x03\x04"
    command.downgrade(alembic_config(empty_url), "0009")
    assert "attachment" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
    with engine.connect() as db:
        assert db.execute(text("SELECT item_id, subject FROM outbox")).all() == [(1, "报修 BX-1")]
    engine.dispose()
