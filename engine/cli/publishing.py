"""Publishing a definitions folder: what `estateflow publish` does, and the browser's 发布 too.

    publish_files(session, folder, by=, comment=)   validate everything, then store the workflows,
                                                    routing tables, messages, reports and the files

It sits in the command layer because it joins the runtime's publishing (engine/runtime/registry.py)
with the reports' (engine/reports/published.py), which the runtime may not import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from engine.errors import DefinitionError, Problem
from engine.language.calendar import load_calendar
from engine.language.loader import Loader, calendar_files
from engine.reports.published import PublishedReport, publish_reports
from engine.runtime.definition_files import StoredFile, folder_files, store_files
from engine.runtime.registry import REGISTRY, Published, PublishedRouting, Registry, publish_site

__all__ = ["PublishOutcome", "publish_files"]


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """What one publish stored: workflow, routing and report versions (each marked created or not),
    the definition files that changed (`files`), and how many files the tree holds now (`files_in_all`)."""

    workflows: list[Published]
    routing: list[PublishedRouting]
    reports: list[PublishedReport]
    files: list[StoredFile]
    files_in_all: int

    @property
    def files_line(self) -> str:
        """`files: 3 changed, 1 removed (38 in all)`, as `estateflow publish` prints it."""
        removed = sum(1 for f in self.files if f.removed)
        return f"files: {len(self.files) - removed} changed, {removed} removed ({self.files_in_all} in all)"


def publish_files(session: Session, folder: Path | str, *, by: str | None, comment: str | None,
                  now: datetime | None = None, registry: Registry = REGISTRY) -> PublishOutcome:
    """Validate every file of `folder` (workflows and overlays, routing, messages, calendars, reports),
    then store what changed: new workflow versions (with `comment`), routing tables, messages, reports,
    and the folder's files as the definitions tree (files missing from the folder marked removed).

    All of it or nothing: a savepoint is rolled back on any error, whatever the caller does next.

    Raises:
        DefinitionError: any file has problems (then nothing is stored).
        Conflict: someone published at the same moment.
    """
    now = now or datetime.now(UTC)
    with session.begin_nested():
        files = folder_files(folder)  # read first: an unreadable file stops the publish before anything
        loader = Loader(folder)  # one snapshot of the folder for workflows and reports
        problems = _calendar_problems(folder)
        if problems:
            raise DefinitionError(problems)
        workflows, routing = publish_site(session, folder, registry=registry, now=now, by=by, loader=loader,
                                          comment=comment)
        reports = publish_reports(session, folder, loader=loader, now=now, by=by)  # checked before storing any
        stored = store_files(session, files, by=by, comment=comment, now=now, complete=True)
    return PublishOutcome(workflows, routing, reports, stored, len(files))


def _calendar_problems(folder: Path | str) -> list[Problem]:
    """Every problem of the folder's calendar files: a broken one is never published, since web and
    worker processes count deadlines by the published text alone."""
    problems: list[Problem] = []
    for path in calendar_files(folder):
        try:
            load_calendar(path)
        except DefinitionError as error:
            problems += error.problems
    return problems
