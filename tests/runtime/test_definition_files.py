"""The definitions folder in the database (engine/runtime/definition_files.py) and publishing it
(engine/cli/publishing.py, `estateflow publish`): versions per path, written back to a folder, refused
when broken. The folder is a copy of tests/data/good/runtime (roles, calendar, three workflows). Both databases.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.cli.main import main
from engine.cli.publishing import publish_files
from engine.errors import DefinitionError
from engine.runtime.definition_files import (
    current_files,
    folder_files,
    materialize,
    store_files,
    text_hash,
    valid_path,
)
from engine.store.db import transaction
from engine.store.models import DefinitionFile, WorkflowVersion

RUNTIME = Path(__file__).resolve().parents[1] / "data" / "good" / "runtime"
REPORTS = Path(__file__).resolve().parents[1] / "reports" / "data" / "workflows"
NOW = datetime.fromisoformat("2026-03-02T09:00:00+08:00")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(RUNTIME, tmp_path / "workflows"))


def _publish(db, folder: Path, *, comment: str | None = None, now: datetime = NOW, by: str | None = "admin"):
    with transaction(db.factory) as session:
        return publish_files(session, folder, by=by, comment=comment, now=now)


def _count(db, model) -> int:
    with db.factory() as session:
        return session.scalar(select(func.count()).select_from(model))


def _versions(db, path: str) -> list[tuple[int, str | None]]:
    with db.factory() as session:
        rows = session.execute(select(DefinitionFile.version, DefinitionFile.text)
                               .where(DefinitionFile.path == path).order_by(DefinitionFile.version))
        return [(version, text) for version, text in rows]


def test_publishing_stores_every_file_of_the_folder_with_its_comment(db, folder: Path) -> None:
    outcome = _publish(db, folder, comment="首次发布")
    assert sorted(f.path for f in outcome.files) == ["calendar.yaml", "job.yaml", "roles.yaml", "ticket.yaml",
                                                      "timed.yaml"]
    assert all(f.added and not f.removed and f.version == 1 for f in outcome.files)
    assert outcome.files_line == "files: 5 changed, 0 removed (5 in all)"
    with db.factory() as session:
        current = current_files(session)
        comments = set(session.scalars(select(WorkflowVersion.comment)))
    assert {path: f.text for path, f in current.items()} == folder_files(folder)
    ticket = current["ticket.yaml"]
    assert (ticket.version, ticket.published_by, ticket.comment) == (1, "admin", "首次发布")
    assert ticket.content_hash == text_hash((folder / "ticket.yaml").read_text(encoding="utf-8"))
    assert comments == {"首次发布"}


def test_publishing_again_stores_only_what_changed_and_marks_removed_files(db, folder: Path) -> None:
    _publish(db, folder)
    assert _publish(db, folder).files == []  # nothing changed: no new version of any file

    ticket = (folder / "ticket.yaml").read_text(encoding="utf-8")
    (folder / "ticket.yaml").write_text("# 改了一行注释\n" + ticket, encoding="utf-8")
    (folder / "calendar.yaml").unlink()
    (folder / "calendars").mkdir()
    (folder / "calendars" / "desk.yaml").write_text("weekend: [sunday]\n", encoding="utf-8")
    outcome = _publish(db, folder, comment="改时限", now=NOW + timedelta(days=1))

    changed = {(f.path, f.version, f.added, f.removed) for f in outcome.files}
    assert changed == {("ticket.yaml", 2, False, False), ("calendar.yaml", 2, False, True),
                       ("calendars/desk.yaml", 1, True, False)}
    assert outcome.files_line == "files: 2 changed, 1 removed (5 in all)"
    assert _versions(db, "calendar.yaml")[-1] == (2, None)
    assert _versions(db, "ticket.yaml")[-1] == (2, "# 改了一行注释\n" + ticket)
    with db.factory() as session:
        current = current_files(session)
    assert "calendar.yaml" not in current and current["calendars/desk.yaml"].comment == "改时限"
    assert current["job.yaml"].version == 1

    (folder / "calendars" / "desk.yaml").unlink()
    (folder / "calendar.yaml").write_text("weekend: [saturday, sunday]\n", encoding="utf-8")
    again = _publish(db, folder)
    assert {(f.path, f.version, f.added, f.removed) for f in again.files} == {
        ("calendar.yaml", 3, True, False), ("calendars/desk.yaml", 2, False, True)}


def test_store_files_without_complete_touches_only_the_paths_given(db, folder: Path) -> None:
    _publish(db, folder)
    with transaction(db.factory) as session:
        stored = store_files(session, {"calendar.yaml": "weekend: [sunday]\n"}, by="admin", comment=None,
                             now=NOW, complete=False)
        assert [(f.path, f.version) for f in stored] == [("calendar.yaml", 2)]
        assert len(current_files(session)) == 5


def test_materialize_writes_the_published_tree_back(db, folder: Path, tmp_path: Path) -> None:
    _publish(db, folder)
    with db.factory() as session:
        written = materialize(session, tmp_path / "copy")
    assert folder_files(written) == folder_files(folder)
    assert (written / "ticket.yaml").read_bytes() == (folder / "ticket.yaml").read_bytes()


def test_materialize_applies_a_draft_a_new_file_and_a_removal(db, folder: Path, tmp_path: Path) -> None:
    _publish(db, folder)
    replace = {"ticket.yaml": "id: ticket\n# 草稿\n", "calendar.yaml": None,
               "estates/demo/calendars/desk.yaml": "weekend: [sunday]\n"}
    with db.factory() as session:
        written = materialize(session, tmp_path / "draft", replace=replace)
    files = folder_files(written)
    assert files["ticket.yaml"] == "id: ticket\n# 草稿\n"
    assert "calendar.yaml" not in files and not (written / "calendar.yaml").exists()
    assert files["estates/demo/calendars/desk.yaml"] == "weekend: [sunday]\n"
    assert files["job.yaml"] == (folder / "job.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [
    "complaint.yaml", "roles.yaml", "calendar.yaml", "messages.yaml", "calendars/desk.yaml",
    "reports/complaints_weekly.yaml", "estates/plaza/complaint.yaml", "estates/demo/_routing.yaml",
    "estates/demo/_messages.yaml", "estates/plaza/calendar.yaml", "estates/plaza/calendars/desk.yaml",
    "estates/plaza/reports/shop-complaints.yaml", "scenarios/complaint/usual_minor.yaml",
])
def test_valid_paths_are_the_places_of_the_tree(path: str) -> None:
    assert valid_path(path)


@pytest.mark.parametrize("path", [
    "", "/etc/passwd.yaml", "../complaint.yaml", "estates/../complaint.yaml", "estates/plaza/../../x.yaml",
    "Complaint.yaml", "complaint.yml", "complaint", "complaint.yaml/", "./complaint.yaml", "estates//x.yaml",
    "estates/plaza/extra/complaint.yaml", "other/complaint.yaml", "scenarios/x.yaml", "reports/a/b.yaml",
    "estates/plaza", "complaint.yaml\n", "estates\\plaza\\complaint.yaml", "投诉.yaml", "a" * 200 + ".yaml",
    ".hidden.yaml",
])
def test_other_paths_are_refused(path: str) -> None:
    assert not valid_path(path)


def test_invalid_paths_are_never_stored_nor_written(db, folder: Path, tmp_path: Path) -> None:
    _publish(db, folder)
    with transaction(db.factory) as session:
        with pytest.raises(ValueError, match="not a path"):
            store_files(session, {"../evil.yaml": "x: 1\n"}, by=None, comment=None, now=NOW, complete=False)
        with pytest.raises(ValueError, match="not a path"):
            materialize(session, tmp_path / "out", replace={"estates/../../evil.yaml": "x: 1\n"})
    assert not (tmp_path / "evil.yaml").exists() and not (tmp_path / "out").exists()
    assert _count(db, DefinitionFile) == 5


def test_folder_files_skips_links_devices_and_other_files(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("secret: 1\n", encoding="utf-8")
    os.symlink("/dev/zero", folder / "zero.yaml")
    os.symlink(outside / "secret.yaml", folder / "linked.yaml")
    os.symlink(outside, folder / "calendars")  # a linked folder is never entered
    os.mkfifo(folder / "fifo.yaml")
    (folder / "README.md").write_text("说明\n", encoding="utf-8")
    (folder / ".draft.yaml").write_text("x: 1\n", encoding="utf-8")
    (folder / "Upper.yaml").write_text("x: 1\n", encoding="utf-8")
    assert sorted(folder_files(folder)) == ["calendar.yaml", "job.yaml", "roles.yaml", "ticket.yaml", "timed.yaml"]


def test_folder_files_refuses_a_file_that_is_not_utf8(folder: Path) -> None:
    (folder / "calendar.yaml").write_bytes("timezone: 上海\n".encode("gbk"))
    with pytest.raises(DefinitionError, match="not UTF-8"):
        folder_files(folder)


def test_a_broken_workflow_publishes_nothing_even_when_the_caller_commits(db, folder: Path) -> None:
    (folder / "ticket.yaml").write_text("id: ticket\nstates: 3\n", encoding="utf-8")
    with transaction(db.factory) as session:
        with pytest.raises(DefinitionError):
            publish_files(session, folder, by="admin", comment="坏的", now=NOW)
    assert _count(db, DefinitionFile) == 0
    assert _count(db, WorkflowVersion) == 0


def test_a_broken_calendar_publishes_nothing(db, folder: Path) -> None:
    (folder / "calendar.yaml").write_text("weekend: [caturday]\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="caturday"):
        _publish(db, folder)
    assert _count(db, DefinitionFile) == 0
    assert _count(db, WorkflowVersion) == 0


def test_publishing_a_folder_with_reports_stores_their_files_too(db, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(REPORTS, tmp_path / "workflows"))
    outcome = _publish(db, folder)
    assert [r.created for r in outcome.reports] and all(r.created for r in outcome.reports)
    with db.factory() as session:
        assert set(current_files(session)) == set(folder_files(folder))
    assert any(path.startswith("reports/") for path in folder_files(folder))


def test_the_publish_command_stores_the_comment_and_prints_the_files(db, folder: Path) -> None:
    result = CliRunner().invoke(main, ["publish", "--url", db.url, "--workflows", str(folder),
                                       "--comment", "调整时限"])
    assert result.exit_code == 0, result.output
    assert "ticket v1: published" in result.stdout
    assert result.stdout.splitlines()[-1] == "files: 5 changed, 0 removed (5 in all)"
    with db.factory() as session:
        assert set(session.scalars(select(WorkflowVersion.comment))) == {"调整时限"}
        assert set(session.scalars(select(DefinitionFile.comment))) == {"调整时限"}
    again = CliRunner().invoke(main, ["publish", "--url", db.url, "--workflows", str(folder)])
    assert again.stdout.splitlines()[-1] == "files: 0 changed, 0 removed (5 in all)"


def test_materialize_never_writes_through_a_linked_folder(db, folder: Path, tmp_path: Path) -> None:
    _publish(db, folder)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "draft"
    target.mkdir()
    os.symlink(outside, target / "estates")
    with db.factory() as session, pytest.raises(ValueError, match="outside"):
        materialize(session, target, replace={"estates/demo/calendar.yaml": "weekend: [sunday]\n"})
    assert list(outside.iterdir()) == []
