"""Calendars as published in the database (engine/runtime/calendars.py PublishedCalendars): what web and
worker processes count deadlines by, with no YAML read from disk at run time. Both databases.

The runtime test folder's calendar (tests/data/good/runtime/calendar.yaml) has 国庆节 2026 (10-01..10-07);
the built-in default has no holidays, so a deadline across the holiday tells which calendar counted.
"""

from __future__ import annotations

import logging
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from engine.cli.publishing import publish_files
from engine.runtime.calendars import PublishedCalendars
from engine.runtime.definition_files import store_files
from engine.runtime.items import create
from engine.store.db import transaction
from tests.runtime.conftest import WORKFLOWS

NATIONAL_DAY = date(2026, 10, 1)
NOW = datetime.fromisoformat("2026-09-30T10:00:00+08:00")


class Timer:
    """A monotonic clock the test moves (PublishedCalendars re-reads after `ttl` of it)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No definitions folder on disk: the default one ($ESTATEFLOW_WORKFLOWS) points at nothing."""
    missing = tmp_path / "no-folder"
    monkeypatch.setenv("ESTATEFLOW_WORKFLOWS", str(missing))
    return missing


def _publish_copy(db, tmp_path: Path, *, name: str = "published", edit=None) -> None:
    """Publish a copy of the runtime folder (after `edit(folder)`), then delete the copy."""
    folder = Path(shutil.copytree(WORKFLOWS, tmp_path / name))
    if edit is not None:
        edit(folder)
    with transaction(db.factory) as session:
        publish_files(session, folder, by="admin", comment=None, now=NOW)
    shutil.rmtree(folder)


def _store(db, files: dict[str, str | None]) -> None:
    with transaction(db.factory) as session:
        store_files(session, {p: t for p, t in files.items() if t is not None}, by="admin", comment=None,
                    now=NOW, complete=False)


def test_a_deadline_counts_by_the_calendar_published_in_the_database(world, clock, tmp_path, nowhere) -> None:
    _publish_copy(world.db, tmp_path)
    assert not nowhere.exists() and not (tmp_path / "published").exists()
    world.calendars = PublishedCalendars(world.db.factory)
    clock.set(NOW)
    item = world.create(workflow="timed", mode="working", unit="1")
    # 2 working days from Wednesday 09-30: 国庆节 and the weekend inside it do not count.
    assert item.deadline_at == datetime.fromisoformat("2026-10-09T10:00:00+08:00")


def test_create_in_a_web_like_process_reads_no_yaml(world, clock, tmp_path, nowhere) -> None:
    _publish_copy(world.db, tmp_path)
    calendars = PublishedCalendars(world.db.factory)
    clock.set(NOW)
    with transaction(world.db.factory) as session:
        item = create(session, workflow="timed", estate="demo", actor=world.actor("clerk"),
                      data={"mode": "hours", "unit": "1"}, clock=clock, calendars=calendars)
    # 4 working hours from 10:00 on 09-30: 2 h that morning, 2 h after lunch, the holiday not reached.
    assert item.deadline_at == datetime.fromisoformat("2026-09-30T15:30:00+08:00")
    assert calendars.for_estate("demo").holidays >= {NATIONAL_DAY}


def test_a_newly_published_calendar_is_seen_after_ttl(db, tmp_path, nowhere) -> None:
    _publish_copy(db, tmp_path)
    timer = Timer()
    calendars = PublishedCalendars(db.factory, ttl=10.0, timer=timer)
    assert NATIONAL_DAY in calendars.for_estate("demo").holidays
    _store(db, {"calendar.yaml": "timezone: Asia/Shanghai\nweekend: [sunday]\n"})
    timer.now = 9.0
    assert NATIONAL_DAY in calendars.for_estate("demo").holidays  # read at most every ttl seconds
    timer.now = 10.0
    fresh = calendars.for_estate("demo")
    assert NATIONAL_DAY not in fresh.holidays and fresh.weekend == frozenset({6})


def test_the_publishing_process_sees_its_calendar_at_once(db, tmp_path, nowhere) -> None:
    _publish_copy(db, tmp_path)
    calendars = PublishedCalendars(db.factory, timer=Timer())
    assert NATIONAL_DAY in calendars.for_estate("demo").holidays
    _store(db, {"calendar.yaml": "weekend: [sunday]\n"})
    calendars.refresh()
    assert calendars.for_estate("demo").holidays == frozenset()


def test_estate_and_named_calendars_come_from_their_published_paths(db, tmp_path, nowhere) -> None:
    def edit(folder: Path) -> None:
        (folder / "estates" / "demo" / "calendars").mkdir(parents=True)
        (folder / "estates" / "demo" / "calendar.yaml").write_text("weekend: [sunday]\n", encoding="utf-8")
        (folder / "estates" / "demo" / "calendars" / "desk.yaml").write_text("weekend: []\n", encoding="utf-8")
        (folder / "calendars").mkdir()
        (folder / "calendars" / "desk.yaml").write_text("weekend: [monday]\n", encoding="utf-8")

    _publish_copy(db, tmp_path, edit=edit)
    calendars = PublishedCalendars(db.factory)
    assert calendars.for_estate("demo").weekend == frozenset({6})
    assert NATIONAL_DAY in calendars.for_estate("other").holidays  # the folder's calendar.yaml
    assert calendars.for_workflow("demo", "desk").weekend == frozenset()
    assert calendars.for_workflow("other", "desk").weekend == frozenset({0})
    assert calendars.for_workflow("other", "missing") == calendars.for_estate("other")


def test_a_removed_calendar_counts_by_the_built_in_default(db, tmp_path, nowhere) -> None:
    _publish_copy(db, tmp_path)
    _publish_copy(db, tmp_path, name="again", edit=lambda folder: (folder / "calendar.yaml").unlink())
    calendars = PublishedCalendars(db.factory)
    assert calendars.for_estate("demo").holidays == frozenset()
    assert calendars.coverage_gaps(NOW) == []


def test_coverage_gaps_name_the_published_file(db, tmp_path, nowhere) -> None:
    _publish_copy(db, tmp_path)
    [gap] = PublishedCalendars(db.factory).coverage_gaps(NOW + timedelta(days=30))
    assert gap.file == "calendar.yaml" and gap.covered_until == date(2026, 12, 31)
    assert "工作日历 calendar.yaml" in gap.chinese()


def test_without_published_files_the_folder_counts_logged_once(db, tmp_path, caplog) -> None:
    folder = Path(shutil.copytree(WORKFLOWS, tmp_path / "workflows"))
    timer = Timer()
    calendars = PublishedCalendars(db.factory, ttl=10.0, workflows_dir=folder, timer=timer)
    with caplog.at_level(logging.WARNING, logger="estateflow.timers"):
        assert NATIONAL_DAY in calendars.for_estate("demo").holidays
        timer.now = 20.0
        assert NATIONAL_DAY in calendars.for_workflow("demo", None).holidays
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "no definition files in the database" in caplog.records[0].message
    assert [gap.file for gap in calendars.coverage_gaps(NOW + timedelta(days=30))] == [str(folder / "calendar.yaml")]

    _store(db, {"calendar.yaml": "weekend: [sunday]\n"})  # the first publish: the database counts from then on
    timer.now = 40.0
    assert calendars.for_estate("demo").weekend == frozenset({6})
