"""管理 › 员工: adding staff with a one-time password shown once, roles per estate within what the manager may
grant, password resets, disabling with a hand-over, leave with a stand-in; the audit and access logs."""

from __future__ import annotations

import re

import pytest
from _org import Browser, app, as_user, org, org_template, text_of  # noqa: F401 (fixtures: app, org, org_template...)

from engine.store.models import AuditLog, Unit, User, UserRole

OTP = re.compile(r'<code class="otp">([^<]+)</code>')


@pytest.fixture
def as_user(app):
    def login(username, password="demo1234"):
        browser = Browser(app.test_client())
        assert browser.login(username, password).status_code == 302
        return browser
    return login


def roles_of(org, username, estate="demo"):
    return {r.role for r in org.rows(UserRole, UserRole.user_id == org.user_id(username), UserRole.estate_id == estate)}


def test_the_list_shows_the_estate_staff_with_their_posts_and_never_another_estates(as_user):
    page = text_of(as_user("manager").get("/admin/users"))
    assert "李前台" in page and "孙师傅" in page and "前台客服" in page
    assert "滨江前台" not in page


def test_a_new_user_gets_a_one_time_password_shown_once_and_must_change_it(as_user, app, org):
    me = as_user("manager")
    response = me.post("/admin/users/new", {"name": "陈静", "username": "chenjing", "phone": "13622223333",
                                            "estate": "demo", "roles": ["housekeeper"]})
    assert response.status_code == 200
    [password] = OTP.findall(text_of(response))
    assert roles_of(org, "chenjing") == {"housekeeper"}
    assert org.user("chenjing").must_change_password is True
    assert password not in text_of(me.get(f"/admin/users/{org.user_id('chenjing')}"))
    newcomer = Browser(app.test_client())
    assert newcomer.login("chenjing", password).headers["Location"].endswith("/account/password")


def test_a_manager_cannot_make_a_manager(as_user, org):
    me = as_user("manager")
    form = text_of(me.get("/admin/users/new"))
    assert 'value="housekeeper"' in form and 'value="cs_manager"' not in form and 'value="admin"' not in form
    response = me.post("/admin/users/new", {"name": "陈静", "username": "chenjing", "estate": "demo",
                                            "roles": ["cs_manager"]})
    assert response.status_code == 422 and "不能授予" in text_of(response)
    assert org.rows(User, User.username == "chenjing") == []


def test_a_taken_username_is_told_next_to_the_field(as_user, org):
    response = as_user("manager").post("/admin/users/new", {"name": "又一个", "username": "frontdesk",
                                                            "estate": "demo", "roles": ["frontdesk"]})
    assert response.status_code == 422 and 'id="e-username"' in text_of(response)


def test_roles_per_estate_are_changed_with_the_checkboxes(as_user, org):
    me = as_user("manager")
    user = org.user_id("frontdesk")
    assert me.post(f"/admin/users/{user}/roles", {"estate": "demo",
                                                  "roles": ["frontdesk", "housekeeper"]}).status_code == 302
    assert roles_of(org, "frontdesk") == {"frontdesk", "housekeeper"}
    [row] = org.rows(AuditLog, AuditLog.target == "role", AuditLog.target_id == str(user), AuditLog.actor_name == "王经理")
    assert row.changes["roles"] == [["frontdesk"], ["frontdesk", "housekeeper"]]


def test_a_forged_role_the_manager_may_not_grant_is_refused(as_user, org):
    user = org.user_id("frontdesk")
    response = as_user("manager").post(f"/admin/users/{user}/roles", {"estate": "demo", "roles": ["admin"]})
    assert response.status_code == 403
    assert roles_of(org, "frontdesk") == {"frontdesk"}


def test_a_reset_shows_a_one_time_password_and_ends_the_users_sessions(as_user, app, org):
    victim = as_user("frontdesk")
    response = as_user("manager").post(f"/admin/users/{org.user_id('frontdesk')}/reset")
    [password] = OTP.findall(text_of(response))
    assert victim.get("/").status_code == 302
    again = Browser(app.test_client())
    assert again.login("frontdesk", password).headers["Location"].endswith("/account/password")


def test_disabling_hands_open_items_over_and_ends_logins(as_user, org):
    item = org.make_item(engineer="engineer")
    victim = as_user("engineer")
    me = as_user("manager")
    response = me.post(f"/admin/users/{org.user_id('engineer')}/disable",
                       {"hand_over_to": str(org.user_id("engineer2"))})
    assert response.status_code == 302
    assert org.user("engineer").active is False
    assert victim.get("/").status_code == 302
    with org.factory() as session:
        from engine.runtime.items import get_item
        assert get_item(session, item.id, org.actor("frontdesk")).values["engineer"] == "engineer2"
    assert "已停用" in text_of(me.get("/admin/users"))
    assert me.post(f"/admin/users/{org.user_id('engineer')}/enable").status_code == 302
    assert org.user("engineer").active is True


def test_the_hand_over_picker_shows_names_not_login_ids(as_user, org):
    page = text_of(as_user("manager").get(f"/admin/users/{org.user_id('engineer')}"))
    picker = page[page.index('name="hand_over_to"'):]
    picker = picker[:picker.index("</select>")]
    assert "钱师傅" in picker and "engineer2" not in picker


def test_leave_with_a_stand_in_and_back(as_user, org):
    me = as_user("manager")
    user = org.user_id("engineer")
    assert me.post(f"/admin/users/{user}/leave", {"stand_in": ""}).status_code == 422
    assert me.post(f"/admin/users/{user}/leave", {"stand_in": str(org.user_id("engineer2"))}).status_code == 302
    assert org.user("engineer").on_leave is True
    assert "由钱师傅代理" in text_of(me.get(f"/admin/users/{user}"))
    assert me.post(f"/admin/users/{user}/back").status_code == 302
    assert org.user("engineer").on_leave is False


def test_a_manager_cannot_disable_staff_of_another_estate(as_user, org):
    response = as_user("manager").post(f"/admin/users/{org.user_id('riverside')}/disable")
    assert response.status_code == 404
    assert org.user("riverside").active is True


def test_the_audit_log_shows_who_changed_what_and_filters_by_date(as_user, org):
    me = as_user("manager")
    me.post(f"/admin/users/{org.user_id('frontdesk')}/roles", {"estate": "demo", "roles": ["frontdesk", "housekeeper"]})
    page = text_of(me.get("/admin/logs/audit?estate=demo"))
    assert "王经理" in page and "贴心管家" in page
    assert "共 0 条" in text_of(me.get("/admin/logs/audit?from=2030-01-01"))
    assert as_user("rmanager").get("/admin/logs/audit?estate=demo").status_code == 404


def test_the_access_log_records_who_saw_residents_and_filters_by_user(as_user, org):
    as_user("frontdesk").get(f"/units/{org.rows(Unit, Unit.number == '3-1-502')[0].id}")
    me = as_user("manager")
    page = text_of(me.get("/admin/logs/access?user=李前台"))
    assert "李前台" in page and "共 1 条" in page
    assert "共 0 条" in text_of(me.get("/admin/logs/access?user=孙师傅"))
    assert as_user("frontdesk").get("/admin/logs/access").status_code == 403
