"""Which working calendar an estate's time limits count by, read from the definitions folder or as published.

    Calendars(workflows_dir)          the calendars of one folder, each file re-read when it changes
    PublishedCalendars(factory)       the calendars as last published in the database (web and worker
                                      processes: no YAML read from disk at run time), same interface
    calendars.for_estate(estate)      `<dir>/estates/<estate>/calendar.yaml`, else `<dir>/calendar.yaml`, else
                                      the built-in default
    calendars.for_workflow(estate, name)   a workflow's own calendar (`calendar: desk`), else the estate's
    calendars.coverage_gaps(now)      the calendar files whose holiday lists end soon (the admin's banner)
    CALENDARS                         the process-wide default ($ESTATEFLOW_WORKFLOWS, else workflows/)

The arithmetic of working time is engine/language/calendar.py's; the deadlines counted by it are
engine/runtime/timers.py's. create, fire and tick take a Calendars as an argument, so a scenario or a
test counts by its own folder.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import DefinitionError
from engine.language.calendar import Calendar, CoverageGap, coverage_gap, load_calendar, parse_calendar
from engine.language.loader import CALENDAR_FILE, CALENDARS_DIR, DEFAULT_WORKFLOWS_DIR, ESTATES_DIR, calendar_files
from engine.language.source import read_yaml
from engine.runtime.definition_files import newest_files
from engine.store.db import make_session_factory
from engine.store.models import DefinitionFile

__all__ = ["CALENDARS", "Calendars", "PublishedCalendars"]

log = logging.getLogger("estateflow.timers")  # the name these warnings have always logged under
_ESTATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CALENDAR_PATH = re.compile(rf"(?:{ESTATES_DIR}/[^/]+/)?(?:{CALENDAR_FILE}|{CALENDARS_DIR}/[^/]+\.yaml)")


class Calendars:
    """Each estate's working calendar from a definitions folder (re-read when its file changes).

    `<dir>/estates/<estate>/calendar.yaml`, else `<dir>/calendar.yaml`, else the
    built-in default (09:00-12:00, 13:30-18:00, Monday to Friday, no holidays). The
    folder defaults to $ESTATEFLOW_WORKFLOWS, else `workflows/` (looked up when used).
    """

    def __init__(self, workflows_dir: Path | str | None = None) -> None:
        self._workflows_dir = workflows_dir
        self._cache: dict[Path, tuple[int, Calendar]] = {}
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        """The definitions folder the calendar files are read from."""
        return Path(self._workflows_dir or os.environ.get("ESTATEFLOW_WORKFLOWS") or DEFAULT_WORKFLOWS_DIR)

    def for_workflow(self, estate_id: str, name: str | None) -> Calendar:
        """The calendar a workflow's limits count by in `estate_id`: its own (`calendar: desk`) or the estate's.

        A named calendar is `<dir>/estates/<estate>/calendars/<name>.yaml`, else `<dir>/calendars/<name>.yaml`;
        when neither exists (validate refuses that) the estate's calendar counts (for_estate).
        """
        if name is not None and _ESTATE_ID.match(name):
            own = [f"{ESTATES_DIR}/{estate_id}/{CALENDARS_DIR}/{name}.yaml"] if _ESTATE_ID.match(estate_id) else []
            for path in [*own, f"{CALENDARS_DIR}/{name}.yaml"]:
                calendar = self._lookup(path)
                if calendar is not None:
                    return calendar
            log.warning("calendar %s of estate %s not found: using the estate's calendar", name, estate_id)
        return self.for_estate(estate_id)

    def for_estate(self, estate_id: str) -> Calendar:
        """The calendar limits of `estate_id` count by."""
        own = [f"{ESTATES_DIR}/{estate_id}/{CALENDAR_FILE}"] if _ESTATE_ID.match(estate_id) else []
        for path in [*own, CALENDAR_FILE]:
            calendar = self._lookup(path)
            if calendar is not None:
                return calendar
        return Calendar()

    def _lookup(self, path: str) -> Calendar | None:
        """The calendar of the folder's file `path` (POSIX, relative); None when there is none."""
        return self._read(self.folder.joinpath(*path.split("/")))

    def _read(self, path: Path) -> Calendar | None:
        """The calendar of `path` (cached while the file is unchanged); None when there is no file."""
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return None
        hit = self._cache.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            calendar = load_calendar(path)
        except DefinitionError:
            # `estateflow validate` reports the problems; limits keep running meanwhile.
            log.warning("calendar %s has problems: using the built-in default", path)
            calendar = Calendar()
        with self._lock:
            self._cache[path] = (stamp, calendar)
        return calendar

    def coverage_gaps(self, now: datetime) -> list[CoverageGap]:
        """The folder's calendar files whose holiday lists end within the next 90 days (the admin's banner)."""
        gaps = []
        for path in calendar_files(self.folder):
            calendar = self._read(path)
            if calendar is not None:
                gap = coverage_gap(str(path), calendar, now.astimezone(calendar.tz).date())
                if gap is not None:
                    gaps.append(gap)
        return gaps


class PublishedCalendars(Calendars):
    """The calendars as last published (definition_files), for web and worker processes: no YAML is
    read from disk at run time, so every host counts by the same calendars.

    The newest text of every calendar path is read in one query at most every `ttl` seconds (a publish
    reaches a running process within that), each text parsed once per content hash. A database holding
    no definition files at all (a site published before 0011) falls back to the folder (Calendars),
    logged once, until its first `estateflow publish`.
    """

    def __init__(self, factory: sessionmaker[Session], *, ttl: float = 10.0,
                 workflows_dir: Path | str | None = None, timer: Callable[[], float] = time.monotonic) -> None:
        super().__init__(workflows_dir)
        bind = factory.kw.get("bind")
        # Read in a non-locking transaction even when given a writer's factory: on SQLite a create or a
        # tick asks for a calendar while its own write transaction holds the lock.
        self._factory = make_session_factory(bind, readonly=True) if isinstance(bind, Engine) else factory
        self._ttl = ttl
        self._timer = timer
        self._read_at: float | None = None
        self._published: dict[str, Calendar] | None = None
        self._parsed: dict[str, Calendar] = {}
        self._refresh = threading.Lock()
        self._fallback_logged = False

    def refresh(self) -> None:
        """Read the published calendars again on next use (the process that just published them)."""
        with self._refresh:
            self._read_at = None

    def _lookup(self, path: str) -> Calendar | None:
        published = self._snapshot()
        return super()._lookup(path) if published is None else published.get(path)

    def coverage_gaps(self, now: datetime) -> list[CoverageGap]:
        """The published calendar files whose holiday lists end within the next 90 days (the admin's banner)."""
        published = self._snapshot()
        if published is None:
            return super().coverage_gaps(now)
        gaps = []
        for path, calendar in sorted(published.items()):
            gap = coverage_gap(path, calendar, now.astimezone(calendar.tz).date())
            if gap is not None:
                gaps.append(gap)
        return gaps

    def _snapshot(self) -> dict[str, Calendar] | None:
        """Calendar path → calendar as published, re-read when older than ttl; None: nothing published."""
        with self._refresh:  # one thread reads, the others wait for its answer rather than query too
            moment = self._timer()
            if self._read_at is None or moment - self._read_at >= self._ttl:
                self._published = self._load()
                self._read_at = moment
            return self._published

    def _load(self) -> dict[str, Calendar] | None:
        with self._factory() as session:
            rows = newest_files(session, or_(DefinitionFile.path == CALENDAR_FILE,
                                              DefinitionFile.path.like(f"{CALENDARS_DIR}/%"),
                                              DefinitionFile.path.like(f"{ESTATES_DIR}/%/{CALENDAR_FILE}"),
                                              DefinitionFile.path.like(f"{ESTATES_DIR}/%/{CALENDARS_DIR}/%")))
            anything = bool(rows) or session.scalar(select(DefinitionFile.id).limit(1)) is not None
        if not anything:
            if not self._fallback_logged:
                log.warning("no definition files in the database (published before they were stored): "
                            "calendars are read from %s until the next `estateflow publish`", self.folder)
                self._fallback_logged = True
            return None
        found: dict[str, Calendar] = {}
        parsed: dict[str, Calendar] = {}
        for row in rows:
            if row.text is not None and _CALENDAR_PATH.fullmatch(row.path):
                found[row.path] = parsed[row.content_hash] = self._parse(row.path, row.text, row.content_hash)
        self._parsed = parsed  # only the texts still published stay cached
        return found

    def _parse(self, path: str, text: str, digest: str) -> Calendar:
        hit = self._parsed.get(digest)
        if hit is not None:
            return hit
        document, smap, problems = read_yaml(text, path)
        calendar, more = parse_calendar(document, smap) if document is not None else (Calendar(), [])
        if problems or more:
            # publish refuses such a file; one stored before that check keeps limits running meanwhile.
            log.warning("calendar %s has problems: using the built-in default", path)
            calendar = Calendar()
        return calendar


CALENDARS = Calendars()
"""The process-wide default: $ESTATEFLOW_WORKFLOWS, else `workflows/` (files are read on first use)."""
