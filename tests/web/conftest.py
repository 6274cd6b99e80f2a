"""Web fixtures: a seeded database per test, the app, a client, and AuthActions per role.

The database is the demo seed (engine/cli/demo.py) over the test workflows in
tests/web/data/workflows (stable while workflows/ is rewritten), built once per
session and copied for each test. CSRF protection stays on: helpers read the
token from a page, as a browser would.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from engine.access.actor import load_actor
from engine.cli.demo import seed
from engine.clock import FixedClock
from engine.runtime.items import ItemView, create, fire
from engine.runtime.registry import publish_folder
from engine.store.db import make_engine, make_session_factory, transaction
from engine.store.migrate import upgrade
from engine.store.models import Base, User
from web import create_app

WORKFLOWS = Path(__file__).resolve().parent / "data" / "workflows"
SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
PASSWORD = "demo1234"
START = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
"""The same moment as the `clock` fixture of tests/conftest.py."""
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def build_database(path: Path, workflows: Path, clock: Any = None) -> None:
    """Migrate, publish `workflows` and seed the demo into a SQLite file."""
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        publish_folder(session, workflows, now=START)
    seed(factory, clock=clock)
    engine.dispose()


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded test database, built once per session."""
    path = tmp_path_factory.mktemp("web") / "template.db"
    build_database(path, WORKFLOWS, FixedClock(START))
    return path


class World:
    """The engine side of a test: make items and fire transitions as the demo users."""

    def __init__(self, url: str, clock: FixedClock) -> None:
        self.engine = make_engine(url)
        self.factory = make_session_factory(self.engine)
        self.clock = clock

    def actor(self, username: str) -> Any:
        """The Actor of a demo user."""
        with self.factory() as session:
            user_id = session.scalars(select(User.id).where(User.username == username)).one()
            return load_actor(session, user_id)

    def make_item(self, by: str = "frontdesk", estate: str = "demo", workflow: str = "ticket",
                  **data: Any) -> ItemView:
        """Register an item (default: a noise ticket in 3-1-502)."""
        values = {"kind": "noise", "unit": "3-1-502", "description": "楼上噪音", **data} if workflow == "ticket" \
            else data
        with transaction(self.factory) as session:
            return create(session, workflow=workflow, estate=estate, actor=self.actor(by), data=values,
                          clock=self.clock)

    def fire(self, item: ItemView, name: str, by: str, **data: Any) -> ItemView:
        """Fire a transition as a demo user."""
        with transaction(self.factory) as session:
            return fire(session, item.id, name, self.actor(by), data, clock=self.clock)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row the runtime writes, to prove a refused request wrote nothing."""
        with self.engine.connect() as connection:
            return {t: [tuple(r) for r in connection.execute(select(Base.metadata.tables[t]))]
                    for t in ("items", "item_history", "outbox", "item_links", "counters", "item_deadlines")}


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Settings a test adds to the app's (parametrize `app_config` to change a limit)."""
    return {}


@pytest.fixture
def app(tmp_path: Path, web_template: Path, clock: FixedClock, app_config: dict[str, Any]) -> Iterator[Flask]:
    """A testing app on a fresh copy of the seeded database."""
    path = tmp_path / "web.db"
    shutil.copyfile(web_template, path)
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "test",
                      "CLOCK": clock, **app_config})
    yield app
    app.extensions["estateflow.db"].engine.dispose()


@pytest.fixture
def world(app: Flask, clock: FixedClock) -> Iterator[World]:
    """Engine access to the app's database."""
    w = World(app.config["DATABASE_URL"], clock)
    yield w
    w.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (cookies kept between requests)."""
    return app.test_client()


def token(client: FlaskClient, url: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's form."""
    match = _TOKEN.search(client.get(url).get_data(as_text=True))
    assert match, f"no csrf_token on {url}"
    return match.group(1) or match.group(2)


class AuthActions:
    """Log in and out as demo users; post forms with a valid CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str = "frontdesk", password: str = PASSWORD) -> TestResponse:
        """Log in through the form (a role id is a demo username)."""
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": token(self.client)})

    def logout(self) -> TestResponse:
        """Log out through the form."""
        return self.client.post("/logout", data={"csrf_token": token(self.client, "/logout")})

    def token(self, url: str = "/login") -> str:
        """A valid CSRF token for this client."""
        return token(self.client, url)

    def post(self, url: str, data: dict[str, Any] | None = None) -> TestResponse:
        """POST a form with a valid CSRF token."""
        return self.client.post(url, data={**(data or {}), "csrf_token": token(self.client, "/")})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    """AuthActions for the client."""
    return AuthActions(client)


@pytest.fixture
def browser(app: Flask) -> Callable[..., AuthActions]:
    """Another browser: AuthActions on a client of its own, at a client address, or replaying a copied cookie
    (`on`: of another app, e.g. one on PostgreSQL)."""

    def make(address: str | None = None, cookie: str | None = None, on: Flask | None = None) -> AuthActions:
        other = (on or app).test_client()
        if address is not None:
            other.environ_base["REMOTE_ADDR"] = address
        if cookie is not None:
            other.set_cookie("session", cookie)
        return AuthActions(other)

    return make
