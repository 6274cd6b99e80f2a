"""Handing items over (disabling, leave), supervisors seeing what is left, the unit page and the caller lookup."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.errors import NotPermitted
from engine.org import staff
from engine.store.db import transaction
from engine.store.models import AccessLog, Item, ItemAssignee, ItemHistory
from engine.views.units import lookup, unit_record


def item(db, item_id: int) -> Item:  # noqa: ANN001
    with db.factory() as session:
        return session.get_one(Item, item_id)


def test_disabling_hands_open_items_to_the_successor_and_records_it(db, org, jobs) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    open_job, done_job = jobs("3-1-502"), jobs("3-1-502", finish=True)
    before = item(db, open_job).version
    with transaction(db.factory) as session:
        report = staff.disable(session, org.actor("admin"), org.ids["fixer"], hand_over_to=org.ids["fixer2"])
    assert [a.item_id for a in report.handed] == [open_job]
    moved = item(db, open_job)
    assert moved.data["handler"] == "fixer2" and moved.version == before + 1
    assert item(db, done_job).data["handler"] == "fixer"  # a closed item keeps who did the work
    with db.factory() as session:
        assignee = session.get_one(ItemAssignee, (open_job, "handler"))
        event = session.scalars(select(ItemHistory).where(ItemHistory.item_id == open_job,
                                                          ItemHistory.event == "handover")).one()
    assert assignee.user_id == org.ids["fixer2"]
    assert (event.actor_name, event.changes) == ("管理员", {"handler": ["fixer", "fixer2"]})


def test_without_a_successor_supervisors_see_the_items_left_behind(db, org, jobs) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    open_job = jobs("3-1-502")
    with transaction(db.factory) as session:
        staff.disable(session, org.actor("admin"), org.ids["fixer"])
    supervisor, desk = org.actor("supervisor"), org.actor("desk")
    with db.factory() as session:
        left = staff.unattended(session, supervisor)
        assert [(u.item_id, u.field, u.display_name) for u in left] == [(open_job, "handler", "维修丙")]
        assert staff.unattended(session, desk) == []


def test_leave_hands_items_to_the_stand_in(db, org, jobs) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    open_job = jobs("3-1-502")
    with transaction(db.factory) as session:
        staff.start_leave(session, org.actor("manager"), org.ids["fixer"], stand_in_id=org.ids["fixer2"])
    assert item(db, open_job).data["handler"] == "fixer2"


def test_the_unit_page_shows_residents_history_and_items_newest_first(db, org, jobs, clock) -> None:  # noqa: ANN001
    unit_id = org.unit("3-1-502", tenant=("赵磊", "13700002222"))
    first = jobs("3-1-502", finish=True)
    clock.advance(timedelta(hours=1))
    second = jobs("3-1-502")
    desk = org.actor("desk")
    with transaction(db.factory) as session:
        page = unit_record(session, desk, unit_id, now=clock.now())
    assert (page.number, page.building, page.estate_name, str(page.area_m2), page.tags) == (
        "3-1-502", "3", "阳光花园", "89.50", ("VIP",))
    assert [(r.kind_label, r.name, r.phone) for r in page.residents] == [("业主", "王丽", "13812345678"),
                                                                         ("租户", "赵磊", "13700002222")]
    assert [i.item_id for i in page.items] == [second, first]
    assert [(i.state_label, i.closed) for i in page.items] == [("处理中", False), ("已关闭", True)]
    assert [h.target for h in page.history][-1] == "unit"
    with db.factory() as session:
        logged = session.scalars(select(AccessLog)).all()
    assert [(a.kind, a.unit_id, a.user_name) for a in logged] == [("view", unit_id, "前台乙")]


def test_a_cleaner_sees_the_unit_masked_and_none_of_its_repairs(db, org, jobs, clock) -> None:  # noqa: ANN001
    unit_id = org.unit("3-1-502")
    jobs("3-1-502")
    sweeper, fixer2 = org.actor("sweeper"), org.actor("fixer2")
    with transaction(db.factory) as session:
        page = unit_record(session, sweeper, unit_id, now=clock.now())
        assert page.residents_masked and [(r.name, r.phone) for r in page.residents] == [("王*", "138****5678")]
        assert page.items == ()
        history = [h.changes for h in page.history if h.target == "resident"]
        assert history[0]["phone"] == [None, "138****5678"]
        # An engineer sees the repairs of engineering, the department they are dispatched to.
        assert len(unit_record(session, fixer2, unit_id, now=clock.now()).items) == 1
    with db.factory() as session:
        assert session.scalars(select(AccessLog)).all() == []


def test_the_caller_lookup_by_phone_shows_open_and_recent_closed_items(db, org, jobs, clock) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    org.unit("3-1-602", owner=("李强", "13900001111"))
    closed = [jobs("3-1-502", finish=True) for _ in range(4)]
    open_job = jobs("3-1-502")
    desk, sweeper = org.actor("desk"), org.actor("sweeper")
    with transaction(db.factory) as session:
        matches = lookup(session, desk, "138 1234 5678", now=clock.now())
        assert [m.unit.number for m in matches] == ["3-1-502"]
        assert [i.item_id for i in matches[0].open_items] == [open_job]
        assert len(matches[0].recent_closed) == 3 and set(i.item_id for i in matches[0].recent_closed) < set(closed)
        assert [m.unit.number for m in lookup(session, desk, "3-1-6", now=clock.now())] == ["3-1-602"]
        with pytest.raises(NotPermitted):
            lookup(session, sweeper, "13812345678", now=clock.now())
    with db.factory() as session:
        assert [a.kind for a in session.scalars(select(AccessLog))] == ["lookup", "lookup"]
