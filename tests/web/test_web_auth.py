"""Logging in and out: hashed passwords, CSRF, plain messages, a growing delay."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engine.store.models import User
from web.auth import WRONG, Throttle


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


def test_next_never_leads_off_site(auth, client):
    response = client.post("/login?next=//evil.example/x", data={
        "username": "frontdesk", "password": "demo1234", "csrf_token": auth.token()})
    assert response.headers["Location"] == "/"


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


def test_the_delay_doubles_per_failure_and_resets_on_success():
    slept = []
    throttle = Throttle(0.5, 4.0, sleep=slept.append)
    key = ("frontdesk", "10.0.0.1")
    delays = []
    for _ in range(6):
        throttle.wait(key)
        delays.append(throttle.delay(key))
        throttle.failed(key)
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert slept == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert throttle.delay(("frontdesk", "10.0.0.2")) == 0.0  # per address too
    throttle.succeeded(key)
    assert throttle.delay(key) == 0.0


def test_wrong_passwords_are_counted_by_the_app(app, auth):
    for _ in range(3):
        auth.login("frontdesk", "wrong")
    throttle = app.extensions["estateflow.throttle"]
    assert throttle.delay(("frontdesk", "127.0.0.1")) == 0.0  # LOGIN_DELAY_BASE is 0 in tests...
    assert throttle._failures[("frontdesk", "127.0.0.1")] == 3  # ...but the failures are counted
