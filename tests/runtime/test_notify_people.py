"""Notifications to the person a `user` field names, to their stand-in while they are away, and to roles per estate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from engine.runtime.outbox import RetryPolicy, claim_next
from engine.store.db import transaction
from engine.store.models import Outbox, User
from tests.runtime._access_org import Org


@pytest.fixture
def org(db: Any, clock: Any) -> Org:
    return Org(db, clock)


def _dispatch(org: Org, engineer: str) -> Any:
    repair = org.create("repair", by="frontdesk", unit="3-1-502")
    return org.fire(repair, "dispatch", "frontdesk", {"area": "in_unit", "trade": "plumbing", "paid": "false",
                                                      "engineer": engineer})


def _recipients(org: Org) -> list[tuple[str | None, int | None, list[int]]]:
    """Claim every pending row: (role, user id, recipients' ids); text messages to residents left out."""
    found = []
    while (message := claim_next(org.db.factory, org.clock.now(), RetryPolicy())) is not None:
        if message.phone is None:  # the repair's dispatch also texts the resident (engine/runtime/resident_messages.py)
            found.append((message.role, message.user_id, [r.user_id for r in message.recipients]))
    return found


def test_notify_user_tells_the_person_named_and_nobody_else(org):
    _dispatch(org, "engineer2")
    rows = [r for r in org.rows("outbox") if r["template"] is None]  # staff rows only
    assert [(r["role"], r["user_id"]) for r in rows] == [(None, org.ids["engineer2"])]
    assert _recipients(org) == [(None, org.ids["engineer2"], [org.ids["engineer2"]])]


def test_while_someone_is_on_leave_their_stand_in_is_told(org):
    with transaction(org.db.factory) as session:
        session.execute(update(User).where(User.id == org.ids["away"])
                        .values(on_leave=True, stand_in_id=org.ids["cover"]))
    _dispatch(org, "away")
    assert _recipients(org) == [(None, org.ids["away"], [org.ids["cover"]])]


def test_an_inactive_stand_in_leaves_the_message_with_the_person(org):
    with transaction(org.db.factory) as session:
        session.execute(update(User).where(User.id == org.ids["away"])
                        .values(on_leave=True, stand_in_id=org.ids["cover"]))
        session.execute(update(User).where(User.id == org.ids["cover"]).values(active=False))
    _dispatch(org, "away")
    assert _recipients(org) == [(None, org.ids["away"], [org.ids["away"]])]


def test_a_role_row_goes_to_the_holders_of_the_role_in_that_estate_only(org):
    complaint = org.create("complaint", by="frontdesk", severity="minor")
    org.fire(complaint, "dispatch", "cs_supervisor", {"department": "cleaning", "handler": "cleaning"})
    org.fire(complaint, "feed_back", "cleaning", {"feedback": "已清理"})
    org.clock.advance(timedelta(seconds=1))
    found = {(role, user): people for role, user, people in _recipients(org)}
    assert found[(None, org.ids["cleaning"])] == [org.ids["cleaning"]]
    assert found[("cs_supervisor", None)] == [org.ids["cs_supervisor"]]


def test_a_role_holder_on_leave_is_covered_by_the_stand_in(org):
    item = org.create("complaint")
    with transaction(org.db.factory) as session:
        session.execute(update(User).where(User.id == org.ids["cs_supervisor"])
                        .values(on_leave=True, stand_in_id=org.ids["cs_manager"]))
        session.add(Outbox(item_id=item.id, estate_id="demo", created_at=org.clock.now(),
                           role="cs_supervisor", subject="投诉", body="请审核", status="pending", attempts=0,
                           next_attempt_at=org.clock.now()))
    assert _recipients(org) == [("cs_supervisor", None, [org.ids["cs_manager"]])]
