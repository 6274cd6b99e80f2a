"""Operations commands of the `estateflow` CLI: `check` and `backup` (registered by engine/cli/main.py).

    estateflow check [--estate E]      every invariant of every item (engine/views/invariants.py);
                                       a line per violation, exit 1 when there is any
    estateflow backup FILE             a consistent copy of a SQLite database, taken while it serves,
                                       and the attached files its rows name in FILE.files/
    estateflow restore FILE            the copy put back in place, its files into the file store

Both print ids, item numbers, state ids and paths only: never a field value.
PostgreSQL is backed up with pg_dump (docs/operations.md, "Backups and restore").
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from engine.cli.common import URL_OPTION, opened, shown_url

__all__ = ["backup", "check", "restore"]


@click.command()
@URL_OPTION
@click.option("--estate", default=None, help="Check only this estate's items (an estate id).")
def check(url: str | None, estate: str | None) -> None:
    """Verify the invariants of every item on a live database; exit 1 when one is broken."""
    from engine.views.invariants import item_count, violations

    found = 0
    with opened(url, "check the database", readonly=True) as factory:
        checked = item_count(factory, estate)
        if checked is None:
            click.echo(f"there is no estate '{estate}'", err=True)
            sys.exit(1)
        for violation in violations(factory, estate=estate):
            click.echo(str(violation))
            found += 1
        found += _check_files(factory, estate)
    where = f" of estate {estate}" if estate else ""
    if found:
        click.echo(f"{found} violation(s) among {checked} item(s){where}", err=True)
        sys.exit(1)
    click.echo(f"OK: {checked} item(s){where} checked, every invariant holds")


def _check_files(factory: Any, estate: str | None) -> int:
    """Attachments without their stored file, and (checking every estate) stored files without a row."""
    from engine.files import integrity, storage

    store, found = storage.configured(), 0
    with factory() as session:
        lines = [*integrity.missing(session, store, estate)]
        lines += [] if estate else integrity.orphaned(session, store)
    for line in lines:
        click.echo(line)
        found += 1
    return found


def _refuse(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _sqlite_target(url: str | None) -> Path:
    """The database file a SQLite URL names (it need not exist yet); any other URL is refused."""
    from sqlalchemy.engine import make_url

    from engine.store.db import database_url

    parsed = make_url(database_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        _refuse(f"restore puts back a SQLite database file; {shown_url(url)} is not one: use pg_restore "
                "(docs/operations.md, \"Backups and restore\")")
    return Path(parsed.database)


def _sqlite_path(url: str | None) -> Path:
    """The database file of a SQLite URL; any other URL is refused with one line."""
    from sqlalchemy.engine import make_url

    from engine.store.db import database_url

    parsed = make_url(database_url(url))
    if parsed.get_backend_name() != "sqlite":
        _refuse(
            f"backup copies SQLite databases; {shown_url(url)} is {parsed.get_backend_name()}: "
            "use pg_dump (docs/operations.md, \"Backups and restore\")")
    if not parsed.database or parsed.database == ":memory:":
        _refuse("backup needs a SQLite database file, not an in-memory database")
    path = Path(parsed.database)
    if not path.is_file():
        _refuse(f"there is no database file {path}")
    return path


def _copy(source: Path, target: Path) -> int:
    """Copy `source` into the new file `target` with SQLite's online backup API; returns its pages.

    Hand-written on purpose: sqlite3's `Connection.backup` is the library call. It copies
    in one step inside a read transaction, which in WAL mode never blocks the server's
    writers (a stepwise copy would restart each time they commit). The copy is then made
    self-contained (rollback journal instead of WAL) and checked before it is kept.
    """
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")
        verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
    finally:
        dst.close()
        src.close()
    if verdict != "ok":
        _refuse(f"the copy failed its integrity check ({verdict}); nothing was written")
    return pages


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@URL_OPTION
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists.")
def backup(file: Path, url: str | None, overwrite: bool) -> None:
    """Copy the SQLite database to FILE, safely while the server and worker run."""
    source = _sqlite_path(url)
    if file.exists() and not overwrite:
        _refuse(f"{file} exists: give a new name, or --overwrite to replace it")
    if file.exists() and file.resolve() == source.resolve():
        _refuse(f"{file} is the database itself")
    partial = file.with_name(file.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        pages = _copy(source, partial)
        with partial.open("rb") as written:
            os.fsync(written.fileno())  # on disk before it takes the backup's name
        os.replace(partial, file)
    except sqlite3.Error as error:
        _refuse(f"cannot back up {source}: {error}")
    finally:
        partial.unlink(missing_ok=True)
    size = file.stat().st_size
    click.echo(f"backed up {source} to {file}: {pages} pages, {size / 1_000_000:.1f} MB")
    _backup_files(file, overwrite)


def files_folder(backup_file: Path) -> Path:
    """Where a backup keeps the attached files: FILE.files/ beside FILE."""
    return backup_file.with_name(backup_file.name + ".files")


def _backup_files(file: Path, overwrite: bool) -> None:
    """Copy the files the backup's own rows name (not the live table's: the copy and its files agree)."""
    import shutil

    from engine.files import integrity, storage
    from engine.store.db import make_engine, make_session_factory

    folder = files_folder(file)
    if folder.exists():
        if not overwrite:
            _refuse(f"{folder} exists: give a new name, or --overwrite to replace it")
        shutil.rmtree(folder)
    engine = make_engine(f"sqlite:///{file}")
    try:
        with make_session_factory(engine)() as session:
            copied, lacking = integrity.copy_files(session, storage.configured(), storage.FolderStore(folder))
    finally:
        engine.dispose()
    click.echo(f"copied {copied} attached file(s) to {folder}")
    for key in lacking:
        click.echo(f"file store: {key} was already missing, not in the backup", err=True)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@URL_OPTION
@click.option("--overwrite", is_flag=True, help="Replace the database file if it exists.")
def restore(file: Path, url: str | None, overwrite: bool) -> None:
    """Put a backup FILE (and its FILE.files/) back in place of the SQLite database; stop the server first."""
    import shutil

    from engine.files import integrity, storage
    from engine.store.db import make_engine, make_session_factory

    target = _sqlite_target(url)
    if target.exists() and not overwrite:
        _refuse(f"{target} exists: stop the server and worker, then give --overwrite to replace it")
    if target.exists() and target.resolve() == file.resolve():
        _refuse(f"{file} is the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(file, partial)
    for suffix in ("-wal", "-shm"):  # the old database's journal must not be replayed onto the backup
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(partial, target)
    engine = make_engine(f"sqlite:///{target}")
    try:
        with make_session_factory(engine)() as session:
            copied, lacking = integrity.copy_files(session, storage.FolderStore(files_folder(file)),
                                                   storage.configured())
    finally:
        engine.dispose()
    click.echo(f"restored {file} to {target} and {copied} attached file(s) to {storage.configured().root}")
    for key in lacking:
        click.echo(f"file store: {key} is not in the backup", err=True)
