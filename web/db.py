"""The database as the web app uses it: one engine per app, one read Session per request.

Reads go through `session()`, a Session opened lazily and closed at the end of the
request; on SQLite it starts plain (non-locking) transactions, so pages never queue
behind a writer. The one write of a request goes through `write()`, the engine's
`transaction` helper: commit on success, roll back on any error, busy → Conflict.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import Clock, SystemClock
from engine.runtime.calendars import PublishedCalendars
from engine.store.db import make_engine, make_session_factory, transaction

_KEY = "estateflow.db"
_CALENDARS = "estateflow.calendars"
_SYSTEM_CLOCK = SystemClock()


@dataclass(frozen=True)
class Database:
    """The app's engine and its two session factories."""

    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]


def init_app(app: Flask) -> None:
    """Create the engine for DATABASE_URL and close the request's Session after each request."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions[_KEY] = Database(engine, make_session_factory(engine, readonly=True),
                                    make_session_factory(engine))
    # Deadlines count by the calendars as published in the database, never by YAML on this host's disk.
    app.extensions[_CALENDARS] = PublishedCalendars(app.extensions[_KEY].reader,
                                                    ttl=float(app.config.get("CALENDARS_TTL", 10.0)))
    app.teardown_appcontext(close_session)


def database() -> Database:
    """The current app's Database."""
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]


def calendars() -> PublishedCalendars:
    """The working calendars create, fire, the reports and the admin's banner count by (as published)."""
    return current_app.extensions[_CALENDARS]  # type: ignore[no-any-return]


def session() -> Session:
    """The request's read Session (opened on first use)."""
    if "db_session" not in g:
        g.db_session = database().reader()
    return g.db_session  # type: ignore[no-any-return]


def close_session(_error: BaseException | None = None) -> None:
    """Close the request's Session, if one was opened."""
    opened = g.pop("db_session", None)
    if opened is not None:
        opened.close()


@contextmanager
def write() -> Iterator[Session]:
    """The request's unit of work: one transaction, committed only if the block succeeds."""
    with transaction(database().writer) as writing:
        yield writing


def clock() -> Clock:
    """The clock the engine calls use (a FixedClock in tests)."""
    return current_app.config.get("CLOCK") or _SYSTEM_CLOCK  # type: ignore[no-any-return]
