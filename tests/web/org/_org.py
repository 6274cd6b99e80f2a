"""The organisation's web tests: an app over two estates with units, residents and staff per post.

Built through the engine's own paths (engine/org: estates, staff), not the demo seed, so these
tests pin the admin pages, the account page and the unit pages whatever the demo becomes.

    阳光花园 (demo): units 3-1-502 (owner 王丽 13812340001, tenant 张敏 13900001111; VIP) and 3-1-101
    滨江花园 (riverside): unit 8-1-101 (owner 赵六 13700002222)
    users (password demo1234, no forced change): admin, manager (cs_manager), frontdesk, cleaner,
    engineer and engineer2 (engineer), in demo; riverside (frontdesk) and rmanager (cs_manager) in riverside

Workflows: tests/web/org/data (fix: a repair with a `unit` field and a routed `user` field).
`org_app(request, backend, clock)` gives the app on SQLite (a copy of a template built once
per session) or on PostgreSQL (the session's test database, emptied and built again).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from engine.access.actor import Actor, load_actor
from engine.clock import FixedClock
from engine.org import estates, staff
from engine.runtime.registry import publish_folder
from engine.store.db import make_engine, make_session_factory, transaction
from engine.store.migrate import upgrade
from engine.store.models import Base, User
from tests._loaders import loader_of
from web import create_app

WORKFLOWS = Path(__file__).resolve().parent / "data"
START = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
PASSWORD = "demo1234"
BACKENDS = ["sqlite", "postgresql"] if os.environ.get("ESTATEFLOW_TEST_PG_URL") else ["sqlite"]
SECRET = "a test secret that is long enough for the checks 0123456789"
STAFF = [  # username, display name, estate, roles
    ("admin", "系统管理员", "demo", ["admin"]),
    ("manager", "王经理", "demo", ["cs_manager"]),
    ("frontdesk", "李前台", "demo", ["frontdesk"]),
    ("cleaner", "赵保洁", "demo", ["cleaning"]),
    ("engineer", "孙师傅", "demo", ["engineer"]),
    ("engineer2", "钱师傅", "demo", ["engineer"]),
    ("riverside", "滨江前台", "riverside", ["frontdesk"]),
    ("rmanager", "滨江经理", "riverside", ["cs_manager"]),
]
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')




def build(factory: sessionmaker[Session]) -> None:
    """Publish the test workflows and add the estates, units, residents and staff above."""
    clock = FixedClock(START)
    system = Actor.system()
    with transaction(factory) as session:
        publish_folder(session, WORKFLOWS, loader=loader_of(WORKFLOWS), now=START)
    with transaction(factory) as session:
        estates.save_estate(session, system, "demo", name="阳光花园")
        estates.save_estate(session, system, "riverside", name="滨江花园")
        vip = estates.save_unit(session, system, "demo", "3-1-502", building="3", area_m2="89.50", tags=["VIP"])
        estates.save_unit(session, system, "demo", "3-1-101", building="3")
        estates.save_resident(session, system, vip.id, kind="owner", name="王丽", phone="13812340001",
                              moved_in_on=date(2020, 5, 1))
        estates.save_resident(session, system, vip.id, kind="tenant", name="张敏", phone="13900001111")
        other = estates.save_unit(session, system, "riverside", "8-1-101", building="8")
        estates.save_resident(session, system, other.id, kind="owner", name="赵六", phone="13700002222")
        for username, name, estate, roles in STAFF:
            user, _ = staff.add_user(session, system, username, name=name, password=PASSWORD,
                                     must_change_password=False, clock=clock)
            staff.set_roles(session, system, user.id, estate, roles, clock=clock)


@pytest.fixture(scope="session")
def org_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The organisation's SQLite database, built once per session; tests copy it."""
    path = tmp_path_factory.mktemp("org") / "org.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    build(make_session_factory(engine))
    engine.dispose()
    return path


@contextmanager
def org_app(request: pytest.FixtureRequest, backend: str, clock: FixedClock, **config: Any) -> Iterator[Flask]:
    """The testing app over the organisation on `backend` (see the module docstring)."""
    if backend == "sqlite":
        path = request.getfixturevalue("tmp_path") / "org.db"
        shutil.copyfile(request.getfixturevalue("org_template"), path)
        url = f"sqlite:///{path}"
    else:
        engine = request.getfixturevalue("pg_engine")
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        build(make_session_factory(engine))
        url = engine.url.render_as_string(hide_password=False)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": SECRET, "CLOCK": clock, **config})
    yield app
    app.extensions["estateflow.db"].engine.dispose()


class Org:
    """The engine side of a test: read rows, act as a user, make items."""

    def __init__(self, app: Flask, clock: FixedClock) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        self.factory = make_session_factory(self.engine)
        self.clock = clock

    def user_id(self, username: str) -> int:
        with self.factory() as session:
            return session.scalars(select(User.id).where(User.username == username)).one()

    def actor(self, username: str) -> Actor:
        with self.factory() as session:
            return load_actor(session, self.user_id(username))

    def user(self, username: str) -> User:
        with self.factory() as session:
            found = session.scalars(select(User).where(User.username == username)).one()
            session.expunge(found)
            return found

    def rows(self, model: Any, *where: Any) -> list[Any]:
        """Every row of `model` (matching `where`), detached."""
        with self.factory() as session:
            found = list(session.scalars(select(model).where(*where)))
            for row in found:
                session.expunge(row)
            return found

    def make_item(self, by: str = "frontdesk", **data: Any) -> Any:
        """Register a repair (default: 3-1-502, a leaking pipe, the resident's phone)."""
        from engine.runtime.items import create

        values = {"unit": "3-1-502", "description": "卫生间漏水", "phone": "13812340001", **data}
        with transaction(self.factory) as session:
            return create(session, workflow="fix", estate="demo", actor=self.actor(by), data=values, clock=self.clock)

    def close(self) -> None:
        self.engine.dispose()


class Browser:
    """One logged-in (or not) browser: log in, GET, POST forms with a CSRF token read from a page."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def token(self, url: str = "/login") -> str:
        match = _TOKEN.search(self.client.get(url).get_data(as_text=True))
        assert match, f"no csrf_token on {url}"
        return match.group(1) or match.group(2)

    def login(self, username: str, password: str = PASSWORD) -> Any:
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": self.token()})

    def get(self, url: str) -> Any:
        return self.client.get(url)

    def post(self, url: str, data: dict[str, Any] | None = None, token_from: str = "/account") -> Any:
        """POST `data` with a valid token (read from `token_from`, a page every logged-in user may open)."""
        return self.client.post(url, data={**(data or {}), "csrf_token": self.token(token_from)})


def text_of(response: Any) -> str:
    """The response body as text."""
    return response.get_data(as_text=True)


# -- the fixtures: a test module imports those it uses (pytest finds them in its namespace) ----------------


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, clock: Any) -> Iterator[Flask]:
    """The organisation's app, on SQLite and (when configured) PostgreSQL."""
    with org_app(request, request.param, clock) as made:
        yield made


@pytest.fixture
def org(app: Flask, clock: Any) -> Iterator[Org]:
    """The engine side: rows, actors, items."""
    made = Org(app, clock)
    yield made
    made.close()


@pytest.fixture
def as_user(app: Flask) -> Callable[[str], Browser]:
    """A browser logged in as `username` (password demo1234)."""
    def login(username: str) -> Browser:
        browser = Browser(app.test_client())
        assert browser.login(username).status_code == 302
        return browser
    return login


@pytest.fixture
def browser(app: Flask) -> Callable[[], Browser]:
    """A new browser, not logged in."""
    return lambda: Browser(app.test_client())
