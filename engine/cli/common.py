"""What the commands share: the `--url` option, an opened database, and how errors print.

    URL_OPTION                      --url, default $ESTATEFLOW_DATABASE_URL, else the SQLite file
    opened(url, doing)              a session factory on a fresh engine, disposed afterwards;
                                    an EngineError or a database error inside prints and exits
    fail(error)                     an EngineError as the CLI shows it: its message (and notes) on
                                    stderr, exit status `error.exit_code`

Expected errors print one clear line (or the definition problems): never a traceback,
never personal data. SQLAlchemy is imported inside the functions that need it, so
`estateflow validate` starts without it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import click

from engine.errors import EngineError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["URL_OPTION", "fail", "opened", "shown_url"]

URL_OPTION = click.option("--url", envvar="ESTATEFLOW_DATABASE_URL", default=None,
                          help="Database URL (default: $ESTATEFLOW_DATABASE_URL, else sqlite:///instance/estateflow.db).")


def fail(error: EngineError) -> NoReturn:
    """Print `error` (and any notes added on its way up) on stderr and exit with its exit code."""
    click.echo(str(error), err=True)
    for note in getattr(error, "__notes__", ()):
        click.echo(note, err=True)
    sys.exit(error.exit_code)


def _fail_on_database_error(doing: str, error: Exception) -> NoReturn:
    """Print one line for a database error and exit 1: the driver's first line only, never a
    traceback or a statement's parameters (they may hold personal data)."""
    first = str(getattr(error, "orig", None) or error).splitlines()[0]
    click.echo(f"cannot {doing} (has `estateflow db upgrade` been run?): {first}", err=True)
    sys.exit(1)


def shown_url(url: str | None) -> str:
    """The database URL in use (see engine.store.db.database_url), its password hidden."""
    from sqlalchemy.engine import make_url

    from engine.store.db import database_url

    return make_url(database_url(url)).render_as_string(hide_password=True)


@contextmanager
def opened(url: str | None, doing: str, *, readonly: bool = False) -> Iterator[sessionmaker[Session]]:
    """A session factory for `url` (`readonly`: see make_session_factory), its engine disposed at the end.

    An EngineError raised in the block goes to `fail`; a database error prints
    `cannot <doing> ...` and exits 1.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from engine.store.db import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        yield make_session_factory(engine, readonly=readonly)
    except EngineError as error:
        fail(error)
    except SQLAlchemyError as error:
        _fail_on_database_error(doing, error)
    finally:
        engine.dispose()
