"""Running the Alembic migrations programmatically (`estateflow db upgrade`, tests).

No alembic.ini: the configuration is built here, with `script_location` naming the
migrations as a package resource (`engine.store:migrations`, which Alembic opens with
importlib.resources), so an installed estateflow migrates from anywhere.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from engine.store.db import database_url, sqlite_foreign_keys

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = "engine.store:migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for `url` (see engine.store.db.database_url)."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    # '%' would be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def upgrade(target: str | Engine | None = None, revision: str = "head") -> None:
    """Bring the database (a URL, an Engine, or the configured default) up to `revision`."""
    if isinstance(target, Engine):
        config = alembic_config(target.url.render_as_string(hide_password=False))
        with target.connect() as connection:
            sqlite_foreign_keys(connection, False)
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
            finally:
                sqlite_foreign_keys(connection, True)  # the connection goes back to the pool
    else:
        command.upgrade(alembic_config(target), revision)


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: not migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
