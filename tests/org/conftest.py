"""Org fixtures: the organisation of tests/org/_org_world.py, made through engine/org, and quick password hashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from _org_world import CATALOGUE, PASSWORD, STAFF, Org

from engine.access.actor import Actor
from engine.org import estates, staff
from engine.store.db import transaction


@pytest.fixture
def org(db) -> Org:  # noqa: ANN001
    """Estates demo and riverside, and the STAFF, added by the system actor."""
    made = Org(db)
    system = Actor.system()
    with transaction(db.factory) as session:
        estates.save_estate(session, system, "demo", name="阳光花园")
        estates.save_estate(session, system, "riverside", name="滨江花园")
        for username, (name, estate, roles) in STAFF.items():
            user, _ = staff.add_user(session, system, username, name=name, password=PASSWORD)
            staff.set_roles(session, system, user.id, estate, roles, catalogue=CATALOGUE)
            made.ids[username] = user.id
    return made


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """One PBKDF2 round instead of scrypt: these tests add many users; the login checks any method."""
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(staff, "generate_password_hash",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"))


JOBS = Path(__file__).resolve().parent / "data" / "workflows"


@pytest.fixture
def jobs(db, org, clock):  # noqa: ANN001, ANN201
    """The `job` workflow published; returns a function registering a job for a unit (dispatched to `handler`)."""
    from engine.runtime.items import create, fire
    from engine.runtime.registry import publish_folder
    from engine.runtime.timers import Calendars

    calendars = Calendars(JOBS)
    with transaction(db.factory) as session:
        publish_folder(session, JOBS, now=clock.now())

    def job(unit: str, *, handler: str | None = "fixer", finish: bool = False, caller: str = "王丽",
            phone: str = "13812345678", estate: str = "demo") -> int:
        desk = org.actor("desk" if estate == "demo" else "river_desk")
        finisher = org.actor(handler or "fixer") if finish else None
        with transaction(db.factory) as session:
            made = create(session, workflow="job", estate=estate, actor=desk, clock=clock, calendars=calendars,
                          data={"unit": unit, "caller": caller, "phone": phone, "description": "水管漏水"})
            if handler is not None:
                made = fire(session, made.id, "dispatch", desk, {"handler": handler}, clock=clock,
                            calendars=calendars)
            if finish:
                made = fire(session, made.id, "finish", finisher, {"amount": "120.50"},
                            clock=clock, calendars=calendars)
            return made.id

    return job
