"""我的账户: a user edits their own name, phone and e-mail, changes their password, and a forced change
(after an admin's reset) keeps them on the change page until done."""

from __future__ import annotations

import pytest
from _org import PASSWORD, app, browser, org, org_template, text_of  # noqa: F401 (fixtures: app, org, org_template...)
from sqlalchemy import select

from engine.org import staff
from engine.store.db import transaction
from engine.store.models import AuditLog, LoginSession


def test_the_account_page_shows_my_details_and_posts(browser):
    me = browser()
    me.login("frontdesk")
    page = text_of(me.get("/account"))
    assert "李前台" in page and "frontdesk" in page and "阳光花园" in page and "前台客服" in page


def test_i_change_my_name_phone_and_email_and_it_is_recorded(browser, org):
    me = browser()
    me.login("frontdesk")
    response = me.post("/account", {"name": "李小红", "phone": "13811112222", "email": "li@example.com"})
    assert response.status_code == 302
    user = org.user("frontdesk")
    assert (user.display_name, user.phone, user.email) == ("李小红", "13811112222", "li@example.com")
    [row] = org.rows(AuditLog, AuditLog.target == "user", AuditLog.action == "change",
                     AuditLog.target_id == str(user.id))
    assert row.actor_name == "李前台" and row.changes["display_name"] == ["李前台", "李小红"]


def test_a_bad_phone_is_told_next_to_the_field_and_nothing_changes(browser, org):
    me = browser()
    me.login("frontdesk")
    response = me.post("/account", {"name": "李前台", "phone": "12345", "email": "not-an-address"})
    assert response.status_code == 422
    page = text_of(response)
    assert 'id="e-phone"' in page and 'id="e-email"' in page
    assert org.user("frontdesk").phone is None


def test_changing_my_password_keeps_me_here_and_ends_my_other_sessions(browser, org):
    here, phone = browser(), browser()
    here.login("frontdesk")
    phone.login("frontdesk")
    response = here.post("/account/password", {"old": PASSWORD, "new": "blue-sky-2026", "again": "blue-sky-2026"})
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert phone.get("/").status_code == 302  # the other browser must log in again
    again = browser()
    assert again.login("frontdesk", "blue-sky-2026").status_code == 302


@pytest.mark.parametrize(("old", "new", "again", "field", "message"), [
    ("wrong-password", "blue-sky-2026", "blue-sky-2026", "old", "原密码不正确"),
    (PASSWORD, "short", "short", "new", "至少要 8 个字符"),
    (PASSWORD, "frontdesk", "frontdesk", "new", "不能与用户名相同"),
    (PASSWORD, "blue-sky-2026", "blue-sky-2027", "again", "两次输入的新密码不一致"),
    (PASSWORD, PASSWORD, PASSWORD, "new", "不能与当前密码相同"),
])
def test_a_refused_password_says_why_next_to_the_field(browser, org, old, new, again, field, message):
    me = browser()
    me.login("frontdesk")
    before = org.user("frontdesk").password_hash
    response = me.post("/account/password", {"old": old, "new": new, "again": again})
    assert response.status_code == 422
    page = text_of(response)
    assert f'id="e-{field}"' in page and message in page
    assert org.user("frontdesk").password_hash == before


def test_after_a_reset_the_user_must_choose_a_password_before_anything_else(browser, org):
    with transaction(org.factory) as session:
        one_time = staff.reset_password(session, org.actor("admin"), org.user_id("frontdesk"))
    me = browser()
    response = me.login("frontdesk", one_time)
    assert response.headers["Location"].endswith("/account/password")
    for url in ("/", "/items", "/account", "/lookup?q=3-1-502", "/units/1"):
        refused = me.get(url)
        assert refused.status_code == 302 and refused.headers["Location"].endswith("/account/password"), url
    assert "设置新密码" in text_of(me.get("/account/password"))
    response = me.post("/account/password", {"old": one_time, "new": "my-own-pass-1", "again": "my-own-pass-1"},
                       token_from="/account/password")
    assert response.status_code == 302
    assert me.get("/").status_code == 200
    assert org.user("frontdesk").must_change_password is False


def test_a_forced_user_may_still_log_out(browser, org):
    with transaction(org.factory) as session:
        one_time = staff.reset_password(session, org.actor("admin"), org.user_id("frontdesk"))
    me = browser()
    me.login("frontdesk", one_time)
    response = me.post("/logout", token_from="/account/password")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    with org.factory() as session:
        open_sessions = session.scalars(select(LoginSession).where(LoginSession.ended_at.is_(None))).all()
    assert open_sessions == []


def test_posting_without_the_csrf_token_is_refused(browser, org):
    me = browser()
    me.login("frontdesk")
    response = me.client.post("/account", data={"name": "李小红"})
    assert response.status_code == 400
    assert org.user("frontdesk").display_name == "李前台"


def test_the_account_page_needs_a_login(browser):
    response = browser().get("/account")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
