"""Administrators' drafts of definition files: one per path, who saved it last and when, its base version.

Runs on SQLite and, with ESTATEFLOW_TEST_PG_URL, on PostgreSQL (the `db` fixture).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.access.actor import Actor
from engine.clock import FixedClock
from engine.errors import InvalidFields, NotPermitted
from engine.runtime.drafts import MAX_DRAFT_CHARS, discard_draft, get_draft, list_drafts, save_draft
from engine.store.db import transaction
from engine.store.models import Draft, User


def an_admin(session, username: str = "wang", name: str = "王主管") -> Actor:
    user = User(username=username, display_name=name)
    session.add(user)
    session.flush()
    return Actor(user.id, name, frozenset({"admin"}), frozenset({"demo"}), username=username)


def test_a_saved_draft_is_read_back_with_who_and_when(db, clock: FixedClock) -> None:
    with transaction(db.factory) as session:
        admin = an_admin(session)
        save_draft(session, "complaint.yaml", "id: complaint\n", admin, clock.now(), 3)
    with db.factory() as session:
        draft = get_draft(session, "complaint.yaml")
        assert draft is not None
        assert (draft.text, draft.base_version, draft.updated_by_name) == ("id: complaint\n", 3, "王主管")
        assert draft.updated_at == clock.now()
        assert draft.updated_by == admin.user_id


def test_saving_again_replaces_the_text_and_keeps_the_version_it_started_from(db, clock: FixedClock) -> None:
    with transaction(db.factory) as session:
        first = an_admin(session)
        second = an_admin(session, "li", "李管理员")
        save_draft(session, "complaint.yaml", "old\n", first, clock.now(), 3)
    later = clock.now() + timedelta(hours=1)
    with transaction(db.factory) as session:
        save_draft(session, "complaint.yaml", "new\n", second, later, 4)
    with db.factory() as session:
        rows = session.scalars(select(Draft)).all()
        assert [(d.path, d.text, d.base_version, d.updated_by_name, d.updated_at) for d in rows] == [
            ("complaint.yaml", "new\n", 3, "李管理员", later)]


def test_drafts_are_listed_by_path_and_discarded_one_by_one(db, clock: FixedClock) -> None:
    with transaction(db.factory) as session:
        admin = an_admin(session)
        for path in ("reports/weekly.yaml", "complaint.yaml", "estates/plaza/complaint.yaml"):
            save_draft(session, path, f"# {path}\n", admin, clock.now(), None)
    with transaction(db.factory) as session:
        assert discard_draft(session, "complaint.yaml") is True
        assert discard_draft(session, "complaint.yaml") is False
    with db.factory() as session:
        assert [d.path for d in list_drafts(session)] == ["estates/plaza/complaint.yaml", "reports/weekly.yaml"]
        assert get_draft(session, "complaint.yaml") is None


def test_only_an_administrator_saves_a_draft(db, clock: FixedClock) -> None:
    frontdesk = Actor(None, "前台", frozenset({"frontdesk", "cs_manager"}), frozenset({"demo"}))
    with transaction(db.factory) as session, pytest.raises(NotPermitted):
        save_draft(session, "complaint.yaml", "id: complaint\n", frontdesk, clock.now(), None)
    with db.factory() as session:
        assert list_drafts(session) == []


def test_a_draft_longer_than_any_file_validate_reads_is_refused(db, clock: FixedClock) -> None:
    with transaction(db.factory) as session, pytest.raises(InvalidFields):
        save_draft(session, "complaint.yaml", "#" * (MAX_DRAFT_CHARS + 1), an_admin(session), clock.now(), None)
    with db.factory() as session:
        assert list_drafts(session) == []


def test_a_deleted_user_leaves_the_draft_with_their_name(db, clock: FixedClock) -> None:
    with transaction(db.factory) as session:
        admin = an_admin(session)
        save_draft(session, "complaint.yaml", "id: complaint\n", admin, clock.now(), None)
    with transaction(db.factory) as session:
        session.delete(session.get(User, admin.user_id))
    with db.factory() as session:
        draft = get_draft(session, "complaint.yaml")
        assert draft is not None and (draft.updated_by, draft.updated_by_name) == (None, "王主管")
