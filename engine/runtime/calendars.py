"""Which working calendar an estate's time limits count by, read from the definitions folder.

    Calendars(workflows_dir)          the calendars of one folder, each file re-read when it changes
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
from datetime import datetime
from pathlib import Path

from engine.errors import DefinitionError
from engine.language.calendar import Calendar, CoverageGap, coverage_gap, load_calendar
from engine.language.loader import CALENDAR_FILE, CALENDARS_DIR, DEFAULT_WORKFLOWS_DIR, ESTATES_DIR, calendar_files

__all__ = ["CALENDARS", "Calendars"]

log = logging.getLogger("estateflow.timers")  # the name these warnings have always logged under
_ESTATE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
            folder = self.folder
            own = [folder / ESTATES_DIR / estate_id / CALENDARS_DIR / f"{name}.yaml"] if _ESTATE_ID.match(
                estate_id) else []
            for path in [*own, folder / CALENDARS_DIR / f"{name}.yaml"]:
                calendar = self._read(path)
                if calendar is not None:
                    return calendar
            log.warning("calendar %s of estate %s not found: using the estate's calendar", name, estate_id)
        return self.for_estate(estate_id)

    def for_estate(self, estate_id: str) -> Calendar:
        """The calendar limits of `estate_id` count by."""
        folder = self.folder
        own = [folder / ESTATES_DIR / estate_id / CALENDAR_FILE] if _ESTATE_ID.match(estate_id) else []
        for path in [*own, folder / CALENDAR_FILE]:
            calendar = self._read(path)
            if calendar is not None:
                return calendar
        return Calendar()

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


CALENDARS = Calendars()
"""The process-wide default: $ESTATEFLOW_WORKFLOWS, else `workflows/` (files are read on first use)."""
