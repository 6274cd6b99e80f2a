"""Connecting to the database: engines, sessions, transactions, busy databases.

SQLite (the default, a file under instance/) gets the product's PRAGMAs on every
connection: WAL, synchronous=FULL (nothing committed is lost on a power cut),
foreign keys, a busy timeout. pysqlite's own transaction handling is switched off
and every transaction starts with `BEGIN IMMEDIATE` (the documented SQLAlchemy
recipe), so two writers queue on the busy timeout instead of failing half-way
with "database is locked" when one upgrades a read lock. A session factory made
with `readonly=True` starts plain deferred transactions (readers never queue).

A database that stays busy, and PostgreSQL serialization or lock failures, are
translated into `engine.errors.Conflict` by `translate_busy()` / `transaction()`,
the boundary where writes happen: callers see a conflict, never OperationalError.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import Conflict

__all__ = [
    "DEFAULT_URL", "BUSY_TIMEOUT_MS", "database_url", "make_engine", "make_session_factory",
    "sqlite_foreign_keys", "transaction", "translate_busy",
]

DEFAULT_URL = "sqlite:///instance/estateflow.db"
BUSY_TIMEOUT_MS = 5000
_READONLY = "estateflow_readonly"
# PostgreSQL SQLSTATEs that mean "someone else got there first": retrying is the caller's call.
_PG_CONFLICT_STATES = {"40001", "40P01", "55P03"}


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else $ESTATEFLOW_DATABASE_URL, else the SQLite default."""
    return url or os.environ.get("ESTATEFLOW_DATABASE_URL") or DEFAULT_URL


def make_engine(url: str | None = None, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """Create an Engine for `url` (see `database_url`), with the SQLite set-up applied.

    A relative SQLite path is created on demand (its folder included).
    """
    parsed = make_url(database_url(url))
    # Chinese text stays readable in the JSON columns (and shorter than \u escapes).
    kwargs.setdefault("json_serializer", _dumps)
    # Statement parameters are residents' data (names, phones, complaints): an error's message,
    # and so every log line and traceback that quotes it, shows the SQL without them.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        folder = os.path.dirname(os.path.abspath(parsed.database))
        os.makedirs(folder, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    _configure_sqlite(engine, busy_timeout_ms)
    return engine


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop pysqlite from issuing its own BEGIN (deferred, and not before DDL);
        # the "begin" hook below takes over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_READONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            # Take the write lock up front: a deferred transaction that reads then
            # writes can fail with SQLITE_BUSY without waiting (lock upgrade deadlock).
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Turn SQLite's foreign-key enforcement on or off for `connection`, outside any transaction.

    Migrations need it off: SQLite alters a table by rebuilding it (copy, DROP, rename), and
    with the keys on, the DROP deletes every row that references the old table through
    ON DELETE CASCADE (an upgrade would empty user_roles, item_history...). This is SQLite's
    documented procedure for schema changes; the pragma does nothing inside a transaction,
    so it goes to the driver before one begins. A no-op on other databases.
    """
    if connection.dialect.name == "sqlite":
        connection.connection.dbapi_connection.execute(  # type: ignore[union-attr]
            f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def make_session_factory(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """A session factory; `readonly=True` sessions start deferred (non-locking) transactions on SQLite."""
    bind = engine.execution_options(**{_READONLY: True}) if readonly else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def is_busy(error: BaseException) -> bool:
    """Whether a DBAPI error means the database was busy or the row was taken meanwhile."""
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _PG_CONFLICT_STATES:
        return True
    if isinstance(error, OperationalError):
        text = str(orig).lower()
        return "database is locked" in text or "database is busy" in text or "database table is locked" in text
    return False


@contextmanager
def translate_busy() -> Iterator[None]:
    """Turn "database is locked" (and PostgreSQL serialization failures) into `Conflict`."""
    try:
        yield
    except DBAPIError as error:
        if is_busy(error):
            raise Conflict(None, None, "数据库正忙，请稍后重试 (the database is busy; try again)") from None
        raise


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One write transaction: commit on success, roll back on any error, busy → `Conflict`."""
    with translate_busy(), factory.begin() as session:
        yield session
