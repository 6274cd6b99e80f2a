"""Logging in and out: hashed passwords, CSRF, plain messages, where `next` may lead."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engine.store.models import User
from web.auth import WRONG, safe_next


def test_login_page_has_the_fields(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page and 'name="csrf_token"' in page
    assert "登录" in page


def test_login_redirects_to_the_inbox(auth, client):
    response = auth.login("cs_supervisor")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "我的待办" in page and "客服主管" in page


@pytest.mark.parametrize(("username", "password"), [("frontdesk", "wrong"), ("nobody", "demo1234"), ("frontdesk", "")])
def test_wrong_credentials_get_one_plain_message(auth, client, username, password):
    response = auth.login(username, password)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert (WRONG in page) or ("请输入密码" in page)
    assert client.get("/").status_code == 302


def test_a_post_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "frontdesk", "password": "demo1234"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_pages_require_login_and_come_back_after(auth, client):
    response = client.get("/items?state=open")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    response = client.post("/login?next=/items", data={"username": "frontdesk", "password": "demo1234",
                                                       "csrf_token": auth.token()})
    assert response.headers["Location"] == "/items"


OFF_SITE = [
    "//evil.example/x", "/%09/evil.example", "/%0A/x", "/%0D%0A/x", "/\\evil.example", "/%5Cevil.example",
    "/%2F%2Fevil.example", "/%252F%252Fevil.example", "https://evil.example/", "javascript:alert(1)",
    "evil.example", "/\t/evil.example", "///evil.example", "/%00/x", "", "http:/evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_never_leads_off_site(auth, client, target):
    response = client.post("/login", query_string={"next": target}, data={
        "username": "frontdesk", "password": "demo1234", "csrf_token": auth.token()})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_issue_s_next_urls_neither_leave_the_site_nor_fail(auth, client):
    for raw in ("/login?next=/%09/evil.example", "/login?next=/%0A/x"):
        assert client.get(raw).status_code == 200
        response = client.post(raw, data={"username": "frontdesk", "password": "demo1234",
                                           "csrf_token": auth.token()})
        assert response.status_code == 302 and response.headers["Location"] == "/"
        auth.logout()


@pytest.mark.parametrize("target", ["/items", "/items?state=open&page=2", "/items/12", "/items?q=%E5%99%AA%E9%9F%B3"])
def test_next_keeps_paths_on_this_site(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_next_refuses_what_is_not_a_plain_path(target):
    from urllib.parse import unquote

    assert safe_next(target) is None and safe_next(unquote(target)) is None


def test_logout_needs_a_post_with_token(auth, client):
    auth.login()
    assert client.get("/logout").status_code == 200  # a confirmation page, still logged in
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 400
    assert auth.logout().headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_passwords_are_stored_hashed(world):
    with world.factory() as session:
        hashes = session.scalars(select(User.password_hash)).all()
    assert hashes and all(h and h != "demo1234" and h.startswith(("scrypt:", "pbkdf2:")) for h in hashes)


def test_an_inactive_user_cannot_log_in_and_is_logged_out(auth, client, world):
    auth.login("engineer")
    with world.factory.begin() as session:
        session.execute(update(User).where(User.username == "engineer").values(active=False))
    assert client.get("/").status_code == 302
    assert WRONG in auth.login("engineer").get_data(as_text=True)
