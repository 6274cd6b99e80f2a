"""Runtime fixtures: a database with estates, users and the small test workflows published."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from engine.access.actor import Actor, load_actor
from engine.clock import FixedClock
from engine.runtime.items import ItemView, available, create, fire
from engine.runtime.registry import publish_folder
from engine.runtime.tick import TickReport, tick
from engine.runtime.timers import Calendars
from engine.store.db import transaction
from engine.store.models import Base, Estate, User, UserEstate, UserRole
from tests._loaders import loader_of
from tests.conftest import BACKENDS, PG_URL

WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "good" / "runtime"
ROLES = ("clerk", "boss", "worker", "admin")



class World:
    """A test database with estates `demo` and `other`, one user per role and estate."""

    def __init__(self, db: Any, clock: FixedClock) -> None:
        self.db = db
        self.clock = clock
        self.users: dict[tuple[str, str], int] = {}
        # The test folder's own calendar (国庆节 2026 and its 调休), whatever the working directory.
        self.calendars = Calendars(WORKFLOWS)
        with transaction(db.factory) as session:
            session.add_all([Estate(id="demo", name="示范小区"), Estate(id="other", name="别的小区")])
            session.flush()
            for estate in ("demo", "other"):
                for role in ROLES:
                    user = User(username=f"{role}@{estate}", display_name=f"{role}（{estate}）")
                    session.add(user)
                    session.flush()
                    session.add_all([UserRole(user_id=user.id, estate_id=estate, role=role),
                                     UserEstate(user_id=user.id, estate_id=estate)])
                    self.users[(role, estate)] = user.id
            publish_folder(session, WORKFLOWS, loader=loader_of(WORKFLOWS), now=clock.now())

    def actor(self, role: str, estate: str = "demo") -> Actor:
        """The user holding just `role` in `estate` (`system`: the system actor)."""
        if role == "system":
            return Actor.system()
        with self.db.factory() as session:
            return load_actor(session, self.users[(role, estate)])

    def create(self, role: str = "clerk", estate: str = "demo", workflow: str = "ticket",
               comment: str | None = None, **data: Any) -> ItemView:
        """Register an item (defaults: a noise ticket in 3-1-502)."""
        values = {**({"kind": "noise", "unit": "3-1-502"} if workflow == "ticket" else {}), **data}
        with transaction(self.db.factory) as session:
            return create(session, workflow=workflow, estate=estate, actor=self.actor(role, estate),
                          data=values, comment=comment, clock=self.clock, calendars=self.calendars)

    def fire(self, item: ItemView | int, name: str, role: str = "boss", data: Mapping[str, Any] | None = None,
             comment: str | None = None, version: int | None = None, estate: str = "demo") -> ItemView:
        """Fire a transition in a transaction of its own."""
        item_id = item if isinstance(item, int) else item.id
        with transaction(self.db.factory) as session:
            return fire(session, item_id, name, self.actor(role, estate), data, comment, version, clock=self.clock,
                        calendars=self.calendars)

    def tick(self) -> TickReport:
        """One tick pass at the clock's time."""
        return tick(self.db.factory, self.clock, calendars=self.calendars)

    def available(self, item: ItemView | int, role: str, estate: str = "demo") -> dict[str, Any]:
        """available() by transition name."""
        item_id = item if isinstance(item, int) else item.id
        with self.db.factory() as session:
            return {a.name: a for a in available(session, item_id, self.actor(role, estate), clock=self.clock)}

    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        """Every row of a table (optionally filtered), as dicts ordered by their first column."""
        model = Base.metadata.tables[table]
        stmt = select(model).order_by(*model.primary_key.columns)
        for column, value in where.items():
            stmt = stmt.where(model.c[column] == value)
        with self.db.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(stmt)]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Everything the runtime writes, to prove a refused call wrote nothing."""
        return {t: self.rows(t) for t in ("items", "item_history", "outbox", "item_links", "counters",
                                          "item_deadlines")}


@pytest.fixture
def world(db: Any, clock: FixedClock) -> World:
    """A database with the runtime test workflows published."""
    return World(db, clock)


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it yet, on each backend: the migration tests upgrade it step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    assert PG_URL
    name = f"estateflow_migration_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
