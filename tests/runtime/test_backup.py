"""`estateflow backup FILE`: a SQLite copy taken while a writer is busy restores and passes `check`."""

from __future__ import annotations

import shutil
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.cli.main import main
from engine.store.db import make_engine
from engine.store.models import Item


def count_items(url):
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(Item)).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_backup_taken_while_a_writer_is_busy_restores_and_passes_check(world, tmp_path):
    for _ in range(5):
        world.fire(world.fire(world.create(kind="leak"), "start", data={"team": "a"}), "finish", role="worker")
    busy, stop, written = threading.Event(), threading.Event(), []

    def writer():
        while not stop.is_set():
            written.append(world.create(kind="noise").id)
            if len(written) >= 3:
                busy.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert busy.wait(timeout=60)
        result = CliRunner().invoke(main, ["backup", str(tmp_path / "copy.db"), "--url", world.db.url])
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"backed up {world.db.url.removeprefix('sqlite:///')} to {tmp_path / 'copy.db'}: ")

    # Restoring is copying the file back into place (the server stopped), or pointing a URL at it.
    restored = tmp_path / "restored" / "estateflow.db"
    restored.parent.mkdir()
    shutil.copyfile(tmp_path / "copy.db", restored)
    url = f"sqlite:///{restored}"
    check = CliRunner().invoke(main, ["check", "--url", url])
    assert check.exit_code == 0, check.output
    assert 5 * 2 + 3 <= count_items(url) <= count_items(world.db.url)  # 5 leaks spawned 5 jobs; 3+ writes


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_an_existing_file_is_kept_unless_overwrite_is_given(world, tmp_path):
    target = tmp_path / "copy.db"
    target.write_text("an older backup", encoding="utf-8")
    refused = CliRunner().invoke(main, ["backup", str(target), "--url", world.db.url])
    assert (refused.exit_code, refused.stderr) == (1, f"{target} exists: give a new name, or --overwrite to replace it\n")
    assert target.read_text(encoding="utf-8") == "an older backup"
    done = CliRunner().invoke(main, ["backup", str(target), "--url", world.db.url, "--overwrite"])
    assert done.exit_code == 0, done.output
    assert CliRunner().invoke(main, ["check", "--url", f"sqlite:///{target}"]).exit_code == 0


def test_postgresql_is_refused_with_the_pg_dump_recipe(tmp_path):
    url = "postgresql+psycopg://estateflow:secret@db.example/estateflow"
    result = CliRunner().invoke(main, ["backup", str(tmp_path / "copy.db"), "--url", url])
    assert result.exit_code == 1
    assert result.stderr == ("backup copies SQLite databases; postgresql+psycopg://estateflow:***@db.example/estateflow "
                             "is postgresql: use pg_dump (docs/operations.md, \"Backups and restore\")\n")
    assert not (tmp_path / "copy.db").exists()


def test_a_missing_database_file_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["backup", str(tmp_path / "copy.db"), "--url", f"sqlite:///{tmp_path}/none.db"])
    assert (result.exit_code, result.stderr) == (1, f"there is no database file {tmp_path}/none.db\n")
