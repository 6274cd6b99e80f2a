"""Sessions that end: logout, password change and disabling end them at once; idle and old ones expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from _backends import BACKENDS, backend_app
from sqlalchemy import func, select, update

from engine.access.sessions import (
    SessionRules,
    check_session,
    digest,
    end_session,
    end_user_sessions,
    start_session,
    touch_session,
)
from engine.cli.demo import PASSWORD
from engine.settings import SETTINGS
from engine.store.db import transaction
from engine.store.models import LoginSession, User
from web import db as web_db
from web.auth import EXPIRED, PLEASE_LOG_IN
from web.config import Config


def cookie(client):
    """The client's session cookie, as someone copying it would see it."""
    return client.get_cookie("session").value


def user_id(world, username):
    with world.factory() as session:
        return session.scalars(select(User.id).where(User.username == username)).one()


def refused(client):
    """Whether the client is sent to the login page, told its login expired."""
    response = client.get("/items")
    if response.status_code != 302 or "/login" not in response.headers["Location"]:
        return False
    return EXPIRED in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_cookie_copied_before_logout_is_refused_after(auth, browser, client, world):
    auth.login("cs_supervisor")
    item = world.make_item()
    form_token = auth.token("/")  # the page's form token, valid with the copied cookie
    copied = cookie(client)
    assert browser(cookie=copied).client.get(f"/items/{item.id}").status_code == 200
    auth.logout()
    thief = browser(cookie=copied).client
    before = world.snapshot()
    response = thief.post(f"/items/{item.id}/fire/dispatch", data={"version": item.version, "csrf_token": form_token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert world.snapshot() == before
    assert refused(thief)


def test_logout_ends_only_the_session_it_is_called_from(auth, browser, client):
    auth.login("frontdesk")
    phone = browser()
    phone.login("frontdesk")
    auth.logout()
    assert phone.client.get("/").status_code == 200


def test_a_password_change_ends_every_session_of_the_user_at_once(auth, browser, client, world):
    auth.login("frontdesk")
    phone = browser()
    phone.login("frontdesk")
    other = browser()
    other.login("engineer")
    with transaction(world.factory) as session:
        assert end_user_sessions(session, user_id(world, "frontdesk"), world.clock.now()) == 2
    assert refused(client) and refused(phone.client)
    assert other.client.get("/").status_code == 200
    assert auth.login("frontdesk").status_code == 302  # a new login works


def test_a_disabled_user_can_no_longer_use_an_existing_session(auth, client, world):
    auth.login("engineer")
    with world.factory.begin() as session:
        session.execute(update(User).where(User.username == "engineer").values(active=False))
    assert refused(client)


def test_a_session_ends_after_the_idle_timeout(auth, client, clock):
    auth.login("frontdesk")
    for _ in range(3):  # activity keeps it open well past one idle period
        clock.advance(timedelta(hours=7, minutes=59))
        assert client.get("/").status_code == 200
    clock.advance(timedelta(hours=8))
    assert refused(client)


@pytest.mark.parametrize("app_config", [{"SESSION_IDLE_HOURS": 0.5}])
def test_the_idle_timeout_is_a_setting(auth, client, clock):
    auth.login("frontdesk")
    clock.advance(timedelta(minutes=29))
    assert client.get("/").status_code == 200
    clock.advance(timedelta(minutes=30))
    assert refused(client)


def test_a_session_ends_at_its_absolute_lifetime_however_active(auth, client, clock):
    auth.login("frontdesk")
    for _ in range(5):
        clock.advance(timedelta(hours=4, minutes=47))
        assert client.get("/").status_code == 200
    clock.advance(timedelta(minutes=25))  # 24 h 0 min after login
    assert refused(client)


def test_activity_is_written_at_most_about_once_a_minute(auth, client, clock, world):
    auth.login("frontdesk")

    def last_seen():
        with world.factory() as session:
            return session.scalars(select(LoginSession.last_seen_at)).one()

    start = last_seen()
    clock.advance(timedelta(seconds=30))
    client.get("/")
    assert last_seen() == start
    clock.advance(timedelta(seconds=31))
    client.get("/")
    assert last_seen() == clock.now()


def test_the_csrf_token_from_before_login_is_refused_after(auth, client):
    before = auth.token("/login")
    response = client.post("/login", data={"username": "frontdesk", "password": PASSWORD, "csrf_token": before})
    assert response.status_code == 302
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert client.get("/").status_code == 200  # still logged in: the forged-looking post did nothing
    assert auth.logout().headers["Location"] == "/login"


def test_the_cookie_carries_a_token_the_database_keeps_only_hashed(app, auth, client, world):
    auth.login("frontdesk")
    data = app.session_interface.get_signing_serializer(app).loads(cookie(client))
    token = data["_user_id"]
    with world.factory() as session:
        ids = session.scalars(select(LoginSession.id)).all()
    assert ids == [digest(token)] and token not in ids and data.get("_user_id") != str(user_id(world, "frontdesk"))


def test_a_cookie_naming_a_user_id_opens_nothing(app, browser, world):
    # The cookies of before server-side sessions held the user id: they are refused, not trusted.
    forged = app.session_interface.get_signing_serializer(app).dumps(
        {"_user_id": str(user_id(world, "admin")), "_fresh": True})
    assert refused(browser(cookie=forged).client)


def test_pages_ask_to_log_in_when_there_was_no_session(client):
    response = client.get("/items")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert PLEASE_LOG_IN in page and EXPIRED not in page


def test_the_web_defaults_are_the_documented_settings():
    documented = {s.name: s.default for s in SETTINGS}
    for name in ("SESSION_IDLE_HOURS", "SESSION_MAX_HOURS", "LOGIN_MAX_FAILURES", "LOGIN_WAIT_SECONDS",
                 "LOGIN_WAIT_MAX_SECONDS", "LOGIN_ADDRESS_MAX_FAILURES", "LOGIN_ADDRESS_WINDOW_MINUTES"):
        assert str(getattr(Config, name)) == documented[f"ESTATEFLOW_{name}"]


@pytest.fixture(params=BACKENDS)
def any_app(request, clock):
    """The seeded app on SQLite, and on PostgreSQL when configured."""
    with backend_app(request, request.param, clock) as app:
        yield app


def test_logout_ending_and_expiry_hold_on_both_databases(any_app, browser, clock):
    office = browser(on=any_app)
    office.login("frontdesk")
    office.token("/")
    copied = cookie(office.client)
    office.logout()
    assert refused(browser(cookie=copied, on=any_app).client)
    phone = browser(on=any_app)
    phone.login("frontdesk")
    with any_app.app_context(), web_db.write() as session:
        frontdesk = session.scalars(select(User.id).where(User.username == "frontdesk")).one()
        assert end_user_sessions(session, frontdesk, clock.now()) == 1
    assert refused(phone.client)
    phone.login("frontdesk")
    clock.advance(timedelta(hours=8))
    assert refused(phone.client)


# The engine side, on SQLite and PostgreSQL.

def add_user(db, username="clerk"):
    with transaction(db.factory) as session:
        user = User(username=username, display_name="前台", password_hash=None, active=True)
        session.add(user)
        session.flush()
        return user.id


def test_sessions_start_hold_and_end_on_both_databases(db, clock):
    rules = SessionRules()
    clerk, other = add_user(db), add_user(db, "other")
    with transaction(db.factory) as session:
        office, phone = (start_session(session, clerk, clock.now(), rules) for _ in range(2))
        elsewhere = start_session(session, other, clock.now(), rules)
    with db.factory() as session:
        assert check_session(session, office, clock.now(), rules).user_id == clerk
        assert check_session(session, "made up", clock.now(), rules).reason == "unknown"
    with transaction(db.factory) as session:
        assert end_session(session, office, clock.now()) is True
        assert end_session(session, office, clock.now()) is False
    with db.factory() as session:
        assert check_session(session, office, clock.now(), rules).reason == "ended"
        assert check_session(session, phone, clock.now(), rules).valid
    with transaction(db.factory) as session:
        assert end_user_sessions(session, clerk, clock.now()) == 1
    with db.factory() as session:
        assert check_session(session, phone, clock.now(), rules).reason == "ended"
        assert check_session(session, elsewhere, clock.now(), rules).valid


def test_idle_and_lifetime_on_both_databases(db, clock):
    rules = SessionRules(idle=timedelta(hours=8), lifetime=timedelta(hours=24))
    clerk = add_user(db)
    with transaction(db.factory) as session:
        token = start_session(session, clerk, clock.now(), rules)
    clock.advance(timedelta(minutes=2))
    with db.factory() as session:
        check = check_session(session, token, clock.now(), rules)
    assert check.valid and check.touch
    with transaction(db.factory) as session:
        touch_session(session, token, clock.now())
    with db.factory() as session:
        assert not check_session(session, token, clock.now(), rules).touch
    clock.advance(timedelta(hours=8))
    with db.factory() as session:
        assert check_session(session, token, clock.now(), rules).reason == "idle"
    clock.advance(timedelta(hours=16))
    with db.factory() as session:
        assert check_session(session, token, clock.now(), rules).reason == "expired"
    with transaction(db.factory) as session:  # a login prunes sessions past their lifetime
        start_session(session, clerk, clock.now(), rules)
    with db.factory() as session:
        assert session.scalar(select(func.count()).select_from(LoginSession)) == 1
