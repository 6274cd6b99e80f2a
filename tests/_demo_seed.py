"""The demo seed over the shipped workflows, made once per test session and backend.

Seeding the demo takes from ten seconds (SQLite) to half a minute (PostgreSQL), so the tests that only
read what one seed made share it: `DemoSeeds.get(backend)` builds it on first use, through the
`estateflow demo` command itself (its clock pinned to the tests' Monday, as `seed(clock=...)` would be),
and keeps the command's output for the test of the command. SQLite: a copy of the session's migrated
template file. PostgreSQL: a database of its own beside the session's (tests/conftest.py empties that
one before each test). `copy(backend)` gives a test that writes a fresh copy of the seeded database.
Readers must not write: what they would write, the next reader would see.
"""

from __future__ import annotations

import importlib
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FixedClock
from engine.language.loader import Loader
from engine.reports.published import publish_reports
from engine.runtime.registry import publish_folder
from engine.store.db import make_engine, make_session_factory, transaction
from engine.store.migrate import upgrade

SHIPPED = Path(__file__).resolve().parents[1] / "workflows"
START = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
"""The same moment as the `clock` fixture of tests/conftest.py."""
BACKENDS = ["sqlite", "postgresql"] if os.environ.get("ESTATEFLOW_TEST_PG_URL") else ["sqlite"]
"""As in tests/conftest.py, for a module's fixture parametrized over the backends."""
demo_module = importlib.import_module("engine.cli.demo")  # the module (engine.cli may export the command)
_real_seed = demo_module.seed
"""The real seed, kept before any test patches `engine.cli.demo.seed`."""


@dataclass
class SeededDemo:
    """A database holding the demo seed: what `db` gives (backend, url, engine, factory), the seed's result
    and the first `estateflow demo` run's output."""

    backend: str
    url: str
    engine: Engine
    factory: sessionmaker[Session]
    result: Any
    output: str


@dataclass
class _Copy:
    backend: str
    url: str
    engine: Engine
    factory: sessionmaker[Session]


class DemoSeeds:
    """The session's seeded demo databases, one per backend, made on first use."""

    def __init__(self, folder: Path, sqlite_template: Path, pg_url: str | None) -> None:
        self.folder = folder
        self.sqlite_template = sqlite_template
        self.pg_url = pg_url
        self.seeded: dict[str, SeededDemo] = {}
        self.pg_names: list[str] = []
        self.engines: list[Engine] = []

    def get(self, backend: str) -> SeededDemo:
        """The seeded database of `backend` (built the first time)."""
        if backend not in self.seeded:
            url = self._fresh(backend)
            with transaction(make_session_factory(engine := make_engine(url))) as session:
                loader = Loader(SHIPPED)
                publish_folder(session, SHIPPED, now=START, loader=loader)
                publish_reports(session, SHIPPED, loader=loader, now=START)  # the shipped reports, as `publish` does
            engine.dispose()
            results: list[Any] = []

            def pinned(factory: Any, **options: Any) -> Any:
                results.append(_real_seed(factory, clock=FixedClock(START), **options))
                return results[-1]

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(demo_module, "seed", pinned)
                run = CliRunner().invoke(demo_module.demo, ["--url", url])
            assert run.exit_code == 0, run.output
            engine = self._engine(url)
            self.seeded[backend] = SeededDemo(backend, url, engine, make_session_factory(engine), results[0],
                                              run.output)
        return self.seeded[backend]

    def copy(self, backend: str) -> _Copy:
        """A database of its own holding a copy of the seed, for a test that writes."""
        seeded = self.get(backend)
        if backend == "sqlite":
            path = self.folder / f"copy-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(make_url(seeded.url).database or "", path)
            url = f"sqlite:///{path}"
        else:
            seeded.engine.dispose()  # CREATE DATABASE ... TEMPLATE needs no one connected to the template
            url = self._pg_database(template=make_url(seeded.url).database)
        engine = self._engine(url)
        return _Copy(backend, url, engine, make_session_factory(engine))

    def close(self) -> None:
        """Dispose the engines and drop the PostgreSQL databases made."""
        for engine in self.engines:
            engine.dispose()
        if self.pg_names and self.pg_url:
            admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                for name in self.pg_names:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    def _engine(self, url: str) -> Engine:
        engine = make_engine(url)
        self.engines.append(engine)
        return engine

    def _fresh(self, backend: str) -> str:
        if backend == "sqlite":
            path = self.folder / "demo.db"
            shutil.copyfile(self.sqlite_template, path)
            return f"sqlite:///{path}"
        url = self._pg_database()
        upgrade(url)
        return url

    def _pg_database(self, template: str | None = None) -> str:
        assert self.pg_url, "ESTATEFLOW_TEST_PG_URL is not set"
        name = f"estateflow_demo_{uuid.uuid4().hex[:12]}"
        admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        admin.dispose()
        self.pg_names.append(name)
        return make_url(self.pg_url).set(database=name).render_as_string(hide_password=False)

