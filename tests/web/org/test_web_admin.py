"""管理: estates, buildings, units and residents, by post: admin everywhere they work, a cs_manager in
their estate only, and nobody else; every change recorded."""

from __future__ import annotations

import re

import pytest
from _org import app, as_user, org, org_template, text_of  # noqa: F401 (fixtures: app, org, org_template...)

from engine.store.models import AuditLog, Building, Estate, Resident, Unit, UserRole


def unit_id(org, number):
    return org.rows(Unit, Unit.number == number)[0].id


PAGES = ["/admin", "/admin/estates/demo", "/admin/estates/demo/units/new", "/admin/units/{unit}",
         "/admin/users", "/admin/users/new", "/admin/logs/audit", "/admin/logs/access"]


@pytest.mark.parametrize("username", ["admin", "manager"])
def test_the_admin_and_the_manager_of_the_estate_open_every_admin_page(as_user, org, username):
    me = as_user(username)
    for page in PAGES:
        url = page.format(unit=unit_id(org, "3-1-502"))
        assert me.get(url).status_code == 200, url


@pytest.mark.parametrize("username", ["frontdesk", "cleaner", "engineer", "riverside"])
def test_other_posts_are_refused_every_admin_page(as_user, org, username):
    me = as_user(username)
    for page in PAGES:
        url = page.format(unit=unit_id(org, "3-1-502"))
        assert me.get(url).status_code == 403, url
    assert "管理" not in re.sub(r"<title>.*?</title>", "", text_of(me.get("/")))


def test_the_admin_pages_need_a_login(app):
    response = app.test_client().get("/admin/estates/demo")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_manager_of_another_estate_is_answered_as_if_it_did_not_exist(as_user, org):
    me = as_user("rmanager")
    assert me.get("/admin/estates/demo").status_code == 404
    assert me.get(f"/admin/units/{unit_id(org, '3-1-502')}").status_code == 404
    assert "阳光花园" not in text_of(me.get("/admin"))
    assert me.get(f"/admin/users/{org.user_id('frontdesk')}").status_code == 404


def test_only_an_admin_adds_an_estate_and_becomes_its_admin(as_user, org):
    assert as_user("manager").get("/admin/estates/new").status_code == 403
    admin = as_user("admin")
    response = admin.post("/admin/estates/new", {"estate_id": "lakeside", "name": "湖畔花园",
                                                  "timezone": "Asia/Shanghai"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/estates/lakeside")
    assert org.rows(Estate, Estate.id == "lakeside")[0].name == "湖畔花园"
    assert {r.role for r in org.rows(UserRole, UserRole.estate_id == "lakeside")} == {"admin"}
    assert "湖畔花园" in text_of(admin.get("/admin/estates/lakeside"))


def test_a_bad_estate_id_is_told_next_to_the_field(as_user, org):
    response = as_user("admin").post("/admin/estates/new", {"estate_id": "湖畔 花园", "name": ""})
    assert response.status_code == 422
    page = text_of(response)
    assert 'id="e-estate_id"' in page and 'id="e-name"' in page
    assert len(org.rows(Estate)) == 2


def test_the_manager_adds_a_unit_in_a_new_building_and_it_is_recorded(as_user, org):
    me = as_user("manager")
    response = me.post("/admin/estates/demo/units/new", {"unit": "7-2-1201", "building": "7", "area_m2": "120.5",
                                                          "tags": "空置、VIP"})
    assert response.status_code == 302
    [unit] = org.rows(Unit, Unit.number == "7-2-1201")
    assert unit.area_m2 == 120.5 and unit.tags == ["空置", "VIP"]
    assert [b.name for b in org.rows(Building, Building.id == unit.building_id)] == ["7"]
    [row] = org.rows(AuditLog, AuditLog.target == "unit", AuditLog.unit_id == unit.id)
    assert row.actor_name == "王经理" and row.action == "add"
    assert "7-2-1201" in text_of(me.get("/admin/estates/demo?q=7-2"))


def test_a_bad_area_is_told_next_to_the_field_and_nothing_is_written(as_user, org):
    before = len(org.rows(Unit))
    response = as_user("manager").post("/admin/estates/demo/units/new",
                                       {"unit": "7-2-1201", "building": "7", "area_m2": "很大"})
    assert response.status_code == 422
    assert 'id="e-area_m2"' in text_of(response)
    assert len(org.rows(Unit)) == before and org.rows(Building, Building.name == "7") == []


def test_changing_a_unit_keeps_the_old_values_in_its_history(as_user, org):
    me = as_user("manager")
    unit = unit_id(org, "3-1-502")
    assert me.post(f"/admin/units/{unit}", {"building": "3", "area_m2": "90", "tags": "VIP、敏感客户"}).status_code == 302
    [row] = org.rows(AuditLog, AuditLog.unit_id == unit, AuditLog.action == "change")
    assert row.changes["area_m2"] == ["89.50", "90.00"] and row.changes["tags"] == [["VIP"], ["VIP", "敏感客户"]]
    page = text_of(me.get(f"/units/{unit}"))
    assert "89.50 → 90.00" in page


def test_the_manager_adds_a_tenant_corrects_them_and_records_the_move_out(as_user, org):
    me = as_user("manager")
    unit = unit_id(org, "3-1-101")
    response = me.post(f"/admin/units/{unit}/residents", {"kind": "tenant", "name": "刘洋", "phone": "13566667777",
                                                         "moved_in_on": "2026-01-05"})
    assert response.status_code == 302
    [tenant] = org.rows(Resident, Resident.unit_id == unit)
    assert me.post(f"/admin/residents/{tenant.id}", {"kind": "tenant", "name": "刘阳", "phone": "13566667777",
                                                      "moved_in_on": "2026-01-05"}).status_code == 302
    assert me.post(f"/admin/residents/{tenant.id}/move-out", {"moved_out_on": "2026-03-01"}).status_code == 302
    [tenant] = org.rows(Resident, Resident.unit_id == unit)
    assert (tenant.name, str(tenant.moved_out_on)) == ("刘阳", "2026-03-01")
    actions = sorted(r.action for r in org.rows(AuditLog, AuditLog.target == "resident", AuditLog.unit_id == unit))
    assert actions == ["add", "change", "move_out"]


def test_a_bad_resident_phone_is_told_next_to_the_field(as_user, org):
    unit = unit_id(org, "3-1-101")
    response = as_user("manager").post(f"/admin/units/{unit}/residents", {"kind": "owner", "name": "刘洋",
                                                                          "phone": "5555"})
    assert response.status_code == 422 and 'id="e-phone"' in text_of(response)
    assert org.rows(Resident, Resident.unit_id == unit) == []


def test_an_admin_outside_customer_service_sees_residents_masked_and_cannot_correct_them(as_user, org):
    me = as_user("admin")
    unit = unit_id(org, "3-1-502")
    page = text_of(me.get(f"/admin/units/{unit}"))
    assert "王*" in page and "138****0001" in page and "王丽" not in page and "13812340001" not in page
    [owner] = org.rows(Resident, Resident.name == "王丽")
    assert me.get(f"/admin/residents/{owner.id}").status_code == 403


def test_admin_posts_need_the_csrf_token(as_user, org):
    me = as_user("manager")
    response = me.client.post("/admin/estates/demo/units/new", data={"unit": "7-2-1201", "building": "7"})
    assert response.status_code == 400
    assert org.rows(Unit, Unit.number == "7-2-1201") == []


def test_the_unit_list_is_paged(as_user, org, app):
    from engine.access.actor import Actor
    from engine.org import estates
    from engine.store.db import transaction

    with transaction(org.factory) as session:
        for n in range(60):
            estates.save_unit(session, Actor.system(), "demo", f"5-1-{n + 100}", building="5")
    me = as_user("manager")
    first = text_of(me.get("/admin/estates/demo"))
    assert "共 62 户" in first and "下一页" in first
    second = text_of(me.get("/admin/estates/demo?page=2"))
    assert "第 2 / 2 页" in second
