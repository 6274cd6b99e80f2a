"""我的待办: items assigned to me first, then those my roles (in the item's estate) may act on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.views.inbox import inbox
from tests.runtime._access_org import Org


@pytest.fixture
def org(db: Any, clock: Any) -> Org:
    return Org(db, clock)


def _dispatch(org: Org, engineer: str) -> Any:
    repair = org.create("repair", by="frontdesk", unit="3-1-502")
    org.clock.advance(timedelta(minutes=1))
    return org.fire(repair, "dispatch", "frontdesk", {"area": "in_unit", "trade": "plumbing", "paid": "false",
                                                      "engineer": engineer})


def _inbox(org: Org, who: str, **kwargs: Any) -> list[tuple[int, bool]]:
    actor = org.actor(who)
    with org.db.factory() as session:
        page = inbox(session, actor, now=org.clock.now(), **kwargs)
    return [(r.id, r.mine) for r in page.rows]


def test_the_technician_sees_only_what_he_may_act_on_his_own_first(org):
    others = _dispatch(org, "engineer2")
    mine = _dispatch(org, "engineer")  # dispatched later: its deadline is later, yet it comes first
    assert _inbox(org, "engineer") == [(mine.id, True)]
    assert _inbox(org, "engineer2") == [(others.id, True)]
    # The lead may act on both (for the technicians); none is assigned to him.
    assert sorted(_inbox(org, "engineering_lead")) == sorted([(others.id, False), (mine.id, False)])


def test_assigned_items_come_first_across_workflows(org):
    later = _dispatch(org, "engineer2")
    complaint = org.create("complaint", by="frontdesk", severity="minor")
    org.fire(complaint, "dispatch", "cs_supervisor", {"department": "engineering", "handler": "engineering_lead"})
    found = _inbox(org, "engineering_lead")
    assert found[0] == (complaint.id, True) and (later.id, False) in found


def test_roles_are_those_held_in_the_items_estate(org):
    org.create("repair", by="frontdesk", unit="3-1-502")
    river = org.create("repair", by="riverside", estate="riverside", unit="1-1-101")
    # riverside's front desk dispatches its own repairs, never demo's.
    assert _inbox(org, "riverside") == [(river.id, False)]
    assert river.id not in {i for i, _ in _inbox(org, "frontdesk")}


def test_pages_of_the_inbox_add_up(org):
    made = [_dispatch(org, "engineer").id for _ in range(5)]
    pages = [_inbox(org, "engineer", page=n, per_page=2) for n in (1, 2, 3)]
    assert sorted(i for page in pages for i, _ in page) == sorted(made)
