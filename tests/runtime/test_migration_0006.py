"""Upgrading a live site to the organisation (migration 0006) keeps everyone's rights and work.

Nothing is lost while SQLite rebuilds the tables it alters. Roles held before become roles in
every estate the user works in; the items already stored
get their assignees from their definitions' `user` fields, so executors, who now see only the
items naming them or their department, still see their open work orders.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from engine.store.migrate import upgrade

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC).isoformat(" ")
DOCUMENT = '{"id": "fix", "fields": {"engineer": {"type": "user", "label": "维修人员"}, "unit": {"type": "string"}}}'


def test_roles_become_per_estate_and_stored_items_keep_their_assignees(empty_url):
    upgrade(empty_url, "0005")
    engine = create_engine(empty_url)
    with engine.begin() as db:
        db.execute(text("INSERT INTO estates (id, name, timezone) VALUES ('demo', '阳光花园', 'Asia/Shanghai'), "
                        "('riverside', '滨江花园', 'Asia/Shanghai')"))
        db.execute(text("INSERT INTO users (id, username, display_name, active) VALUES "
                        "(1, 'wang', '王师傅', true), (2, 'li', '李主管', true)"))
        db.execute(text("INSERT INTO user_estates (user_id, estate_id) VALUES (1, 'demo'), (2, 'demo'), "
                        "(2, 'riverside')"))
        db.execute(text("INSERT INTO user_roles (user_id, role) VALUES (1, 'engineer'), (2, 'cs_supervisor')"))
        db.execute(text("INSERT INTO workflow_versions (id, workflow_id, estate_id, version, content_hash, document, "
                        "roles, published_at) VALUES (1, 'fix', '', 1, 'h', :doc, '{}', :now)"),
                   {"doc": DOCUMENT, "now": NOW})
        for item_id, engineer in ((1, '"wang"'), (2, "null"), (3, '"gone"')):
            db.execute(text(
                "INSERT INTO items (id, estate_id, number, workflow_id, definition_id, definition_version, state, "
                "data, version, created_at, updated_at, state_entered_at) VALUES "
                f"(:id, 'demo', :number, 'fix', 1, 1, 'new', '{{\"engineer\": {engineer}, \"unit\": \"3-1-502\"}}', "
                "1, :now, :now, :now)"), {"id": item_id, "number": f"BX-{item_id}", "now": NOW})
            db.execute(text("INSERT INTO item_history (item_id, kind, transition, to_state, actor_name, at, changes) "
                            "VALUES (:id, 'transition', 'create', 'new', '前台', :now, '{}')"),
                       {"id": item_id, "now": NOW})
    upgrade(empty_url)
    with engine.connect() as db:
        roles = set(db.execute(text("SELECT user_id, estate_id, role FROM user_roles")).all())
        assigned = db.execute(text("SELECT item_id, field, user_id FROM item_assignees")).all()
        history = db.execute(text("SELECT count(*) FROM item_history")).scalar_one()
        estates_of_users = db.execute(text("SELECT count(*) FROM user_estates")).scalar_one()
    engine.dispose()
    # SQLite rebuilds the altered tables (users, items): nothing referencing them is lost on the way.
    assert history == 3 and estates_of_users == 3
    assert roles == {(1, "demo", "engineer"), (2, "demo", "cs_supervisor"), (2, "riverside", "cs_supervisor")}
    # Only the item naming a known person gets an assignee; an empty field or an unknown name gets none.
    assert [tuple(r) for r in assigned] == [(1, "engineer", 1)]
