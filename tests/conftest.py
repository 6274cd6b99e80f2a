"""Shared fixtures: a controllable clock and a fresh, migrated database per test.

`db` runs on SQLite (a copy of a template file migrated once per session) and, when
ESTATEFLOW_TEST_PG_URL is set, again on PostgreSQL: a database of its own per test
session (CREATE DATABASE estateflow_test_<random>, migrated once, emptied before
each test, dropped at the end). A PostgreSQL that is down then fails, not skips.
HYPOTHESIS_PROFILE=ci selects a small hypothesis profile.
`demo_seeds` holds the demo seed over the shipped workflows, made once per backend (tests/_demo_seed.py).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FixedClock
from engine.store.db import make_engine, make_session_factory
from engine.store.migrate import upgrade
from engine.store.models import Base
from tests._demo_seed import DemoSeeds

PG_URL = os.environ.get("ESTATEFLOW_TEST_PG_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
START = datetime.fromisoformat("2026-03-02T09:00:00+08:00")

_quiet = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile("ci", max_examples=15, deadline=None, suppress_health_check=_quiet)
settings.register_profile("default", deadline=None, suppress_health_check=_quiet)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at Monday 2026-03-02 09:00 in Shanghai; tests move it."""
    return FixedClock(START)


@dataclass
class Database:
    """A migrated database for one test: its URL, engine and session factory."""

    backend: str
    url: str
    engine: Engine
    factory: sessionmaker[Session]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests copy it."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test session's own, migrated; dropped at the end."""
    assert PG_URL, "ESTATEFLOW_TEST_PG_URL is not set"
    name = f"estateflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_database: str) -> Iterator[Engine]:
    """One engine for the session's PostgreSQL database."""
    engine = make_engine(pg_database)
    yield engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A fresh migrated database: SQLite, and PostgreSQL too when configured."""
    if request.param == "sqlite":
        path = tmp_path / "estateflow.db"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        yield Database("sqlite", url, engine, make_session_factory(engine))
        engine.dispose()
    else:
        engine = request.getfixturevalue("pg_engine")
        _empty(engine)
        url = engine.url.render_as_string(hide_password=False)
        yield Database("postgresql", url, engine, make_session_factory(engine))


@pytest.fixture(scope="session")
def demo_seeds(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[DemoSeeds]:
    """The demo seed per backend, made on first use and shared by the tests that only read it
    (session-wide, so that every module reading it shares the one seed)."""
    seeds = DemoSeeds(tmp_path_factory.mktemp("demo"), sqlite_template, PG_URL)
    yield seeds
    seeds.close()
