"""Estates, buildings, units and residents: written with their history, found by 房号, name or phone."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from engine.access.actor import Actor
from engine.errors import InvalidFields, ItemNotFound, NotPermitted
from engine.org import estates
from engine.store.db import transaction
from engine.store.models import AuditLog, Building, Estate, Resident, Unit, UserRole


def audit_rows(db, **where):  # noqa: ANN001, ANN201
    with db.factory() as session:
        stmt = select(AuditLog).order_by(AuditLog.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditLog, key) == value)
        return session.scalars(stmt).all()


def test_an_admin_adds_an_estate_and_becomes_its_admin(db, org) -> None:  # noqa: ANN001
    with transaction(db.factory) as session:
        estates.save_estate(session, org.actor("admin"), "plaza", name="万象广场")
    with db.factory() as session:
        assert session.get(Estate, "plaza").timezone == "Asia/Shanghai"
        roles = session.scalars(select(UserRole.role).where(UserRole.user_id == org.ids["admin"],
                                                            UserRole.estate_id == "plaza")).all()
    assert roles == ["admin"]
    assert org.actor("admin").roles_in("plaza") == {"admin"}
    added = audit_rows(db, target="estate", target_id="plaza")
    assert [(r.action, r.actor_name, r.changes["name"]) for r in added] == [("add", "管理员", [None, "万象广场"])]


def test_only_an_admin_adds_estates_and_a_manager_renames_their_own(db, org) -> None:  # noqa: ANN001
    with pytest.raises(NotPermitted, match="只有系统管理员可以添加小区"), transaction(db.factory) as session:
        estates.save_estate(session, org.actor("manager"), "plaza", name="万象广场")
    with transaction(db.factory) as session:
        estates.save_estate(session, org.actor("manager"), "demo", name="阳光花园一期")
    with pytest.raises(ItemNotFound), transaction(db.factory) as session:
        estates.save_estate(session, org.actor("manager"), "riverside", name="别人的小区")
    with pytest.raises(NotPermitted, match="系统管理员或客服部经理"), transaction(db.factory) as session:
        estates.save_estate(session, org.actor("desk"), "demo", name="前台改名")
    assert [r.changes for r in audit_rows(db, target="estate", action="change")] == [
        {"name": ["阳光花园", "阳光花园一期"]}]


@pytest.mark.parametrize(("estate_id", "name", "zone", "field"), [
    ("Sun Shine", "阳光", None, "estate_id"),
    ("sunshine", "  ", None, "name"),
    ("sunshine", "阳光", "Mars/Olympus", "timezone"),
])
def test_a_bad_estate_names_the_field(db, org, estate_id, name, zone, field) -> None:  # noqa: ANN001
    with pytest.raises(InvalidFields) as refused, transaction(db.factory) as session:
        estates.save_estate(session, org.actor("admin"), estate_id, name=name, timezone=zone)
    assert list(refused.value.fields) == [field]


def test_a_unit_is_added_with_its_building_and_a_change_keeps_the_old_values(db, org) -> None:  # noqa: ANN001
    admin = org.actor("admin")
    with transaction(db.factory) as session:
        unit = estates.save_unit(session, admin, "demo", "3-1-502", building="3栋", area_m2="89.50", tags="VIP;空置")
        unit_id = unit.id
    with transaction(db.factory) as session:
        estates.save_unit(session, admin, "demo", "3-1-502", building="3栋", area_m2=92, tags=["VIP"])
    with transaction(db.factory) as session:
        estates.save_unit(session, admin, "demo", "3-1-502", building="3栋", area_m2=92, tags=["VIP"])  # no change
    history = audit_rows(db, unit_id=unit_id)
    assert [(r.target, r.action) for r in history] == [("unit", "add"), ("unit", "change")]
    assert history[1].changes == {"area_m2": ["89.50", "92.00"], "tags": [["VIP", "空置"], ["VIP"]]}
    assert [r.changes["name"] for r in audit_rows(db, target="building")] == [[None, "3栋"]]
    with db.factory() as session:
        assert session.scalars(select(Building.name)).all() == ["3栋"]


@pytest.mark.parametrize(("number", "area", "tags", "field"), [
    ("3-1-502?", None, None, "unit"),
    ("3-1-502", "-5", None, "area_m2"),
    ("3-1-502", "八十", None, "area_m2"),
    ("3-1-502", "89.555", None, "area_m2"),
    ("3-1-502", None, ["x" * 30], "tags"),
])
def test_bad_unit_values_are_refused_by_field(db, org, number, area, tags, field) -> None:  # noqa: ANN001
    with pytest.raises(InvalidFields) as refused, transaction(db.factory) as session:
        estates.save_unit(session, org.actor("admin"), "demo", number, building="3", area_m2=area, tags=tags)
    assert field in refused.value.fields
    with db.factory() as session:
        assert session.scalars(select(Unit)).all() == []


def test_staff_who_do_not_manage_the_estate_cannot_change_units(db, org) -> None:  # noqa: ANN001
    with pytest.raises(NotPermitted), transaction(db.factory) as session:
        estates.save_unit(session, org.actor("desk"), "demo", "1-1-101", building="1")
    with pytest.raises(ItemNotFound), transaction(db.factory) as session:
        estates.save_unit(session, org.actor("river_admin"), "demo", "1-1-101", building="1")


def test_residents_are_added_corrected_and_moved_out_with_history(db, org) -> None:  # noqa: ANN001
    unit_id = org.unit("3-1-502")
    admin = org.actor("admin")
    with db.factory() as session:
        owner_id = session.scalars(select(Resident.id)).one()
    with transaction(db.factory) as session:
        estates.save_resident(session, admin, unit_id, kind="owner", name="王莉", phone="138-1234-5678",
                              resident_id=owner_id)
        estates.move_out(session, admin, owner_id, date(2026, 5, 1))
    changes = [(r.action, r.changes) for r in audit_rows(db, target="resident")]
    assert changes[1] == ("change", {"name": ["王丽", "王莉"]})  # the phone was typed differently, not changed
    assert changes[2] == ("move_out", {"moved_out_on": [None, "2026-05-01"]})
    with pytest.raises(InvalidFields) as refused, transaction(db.factory) as session:
        estates.save_resident(session, admin, unit_id, kind="lodger", name="", phone="12345")
    assert set(refused.value.fields) == {"kind", "name", "phone"}


def test_find_units_by_number_name_and_phone(db, org) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    org.unit("3-1-602", owner=("李强", "13900001111"), tenant=("赵磊", "13700002222"))
    org.unit("3-1-502", estate="riverside", owner=("钱多", "13812345678"))
    desk = org.actor("desk")
    with db.factory() as session:
        assert [h.number for h in estates.find_units(session, desk, "3-1")] == ["3-1-502", "3-1-602"]
        by_phone = estates.find_units(session, desk, "137 0000 2222")
        assert [(h.number, h.matched) for h in by_phone] == [("3-1-602", "phone")]
        assert {r.name for r in by_phone[0].residents} == {"李强", "赵磊"} and not by_phone[0].masked
        assert [h.number for h in estates.find_units(session, desk, "王丽")] == ["3-1-502"]
        # Another estate's 3-1-502 and its resident are never found from 阳光花园.
        assert [h.estate_id for h in estates.find_units(session, desk, "13812345678")] == ["demo"]


def test_those_who_may_not_see_residents_get_them_masked_and_cannot_search_phones(db, org) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    fixer = org.actor("fixer")
    with db.factory() as session:
        hits = estates.find_units(session, fixer, "502")
        assert hits[0].masked
        assert [(r.name, r.phone) for r in hits[0].residents] == [("王*", "138****5678")]
        assert estates.find_units(session, fixer, "王丽") == []  # a masked page must not confirm who lives where
        with pytest.raises(NotPermitted, match="不能按电话查找住户"):
            estates.find_units(session, fixer, "13812345678")


def test_a_moved_out_resident_is_no_longer_found_by_phone(db, org) -> None:  # noqa: ANN001
    org.unit("3-1-502")
    with transaction(db.factory) as session:
        resident = session.scalars(select(Resident)).one()
        estates.move_out(session, Actor.system(), resident.id, date(2026, 1, 1))
    desk = org.actor("desk")
    with db.factory() as session:
        assert estates.find_units(session, desk, "13812345678", today=date(2026, 3, 1)) == []
