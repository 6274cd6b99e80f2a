"""The seeded web app on SQLite and, when ESTATEFLOW_TEST_PG_URL is set, on PostgreSQL.

For the web tests that must hold on both databases (the fuzz test, forced database errors):
PostgreSQL refuses what SQLite lets through (NUL bytes, integers beyond 32 bits), so a
page that is fine on one can fail on the other. A test module wraps `backend_app` in a
fixture parametrized over BACKENDS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from engine.cli.demo import seed
from engine.clock import FixedClock
from engine.runtime.definition_files import folder_files, store_files
from engine.runtime.registry import publish_folder
from engine.store.db import make_session_factory, transaction
from engine.store.models import Base
from web import create_app

# As in tests/web/conftest.py; not imported from there, since `conftest` names whichever
# conftest module was loaded last when several test folders are collected together.
WORKFLOWS = Path(__file__).resolve().parent / "data" / "workflows"
START = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
BACKENDS = ["sqlite", "postgresql"] if os.environ.get("ESTATEFLOW_TEST_PG_URL") else ["sqlite"]
SECRET = "a test secret that is long enough for the checks 0123456789"


@contextmanager
def backend_app(request: pytest.FixtureRequest, backend: str, clock: FixedClock,
                **config: Any) -> Iterator[Flask]:
    """The seeded testing app on `backend`: SQLite is the `app` fixture; PostgreSQL is the
    session's test database (tests/conftest.py), emptied, published and seeded the same way."""
    if backend == "sqlite":
        app = request.getfixturevalue("app")
        app.config.update(config)
        yield app
        return
    engine = request.getfixturevalue("pg_engine")
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        publish_folder(session, WORKFLOWS, now=START)
    seed(factory, clock=FixedClock(START))
    app = create_app({"TESTING": True, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                      "SECRET_KEY": SECRET, "CLOCK": clock, **config})
    yield app
    app.extensions["estateflow.db"].engine.dispose()


@contextmanager
def app_on(request: pytest.FixtureRequest, backend: str, clock: FixedClock) -> Iterator[Flask]:
    """backend_app for a module whose own `app` fixture is parametrized over BACKENDS (it cannot ask for
    `app`): on SQLite a fresh copy of the seeded template, as tests/web/conftest.py's `app` makes one."""
    if backend != "sqlite":
        with backend_app(request, backend, clock) as app:
            yield app
        return
    path = request.getfixturevalue("tmp_path") / "web.db"
    shutil.copyfile(request.getfixturevalue("web_template"), path)
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "test", "CLOCK": clock})
    yield app
    app.extensions["estateflow.db"].engine.dispose()


@contextmanager
def app_with_files(request: pytest.FixtureRequest, backend: str, clock: FixedClock, folder: Path) -> Iterator[Flask]:
    """backend_app whose database also holds `folder` as published definition files, as `estateflow
    publish` stores them (the seed publishes the definitions only): what the authoring pages edit."""
    with backend_app(request, backend, clock) as app:
        with transaction(app.extensions["estateflow.db"].writer) as session:
            store_files(session, folder_files(folder), by="部署", comment=None, now=START)
        yield app
