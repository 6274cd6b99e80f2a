"""Alembic environment: run by engine.store.migrate, never by create_all.

The connection comes from `config.attributes["connection"]` when the caller has
one, else an engine is made from `sqlalchemy.url` with the product's settings.
SQLite uses batch mode so later migrations can alter tables, with foreign keys off while
they run (engine.store.db.sqlite_foreign_keys says why) and checked before the commit.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from engine.store.db import make_engine, sqlite_foreign_keys
from engine.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:  # raised inside the transaction: the whole upgrade rolls back
                raise RuntimeError(f"the migration left {len(broken)} row(s) pointing at nothing: {broken[:5]}")


def run_migrations_online() -> None:
    """Migrate through the given connection, or a fresh engine for the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as fresh:
            sqlite_foreign_keys(fresh, False)
            _run(fresh)
            fresh.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `estateflow db upgrade`")
run_migrations_online()
