"""What `estateflow validate` checks, file by file, and the same check on one text posted by the editor.

`estateflow validate` walks a folder (`targets`), tells each file's kind from where it lies (`kind_of`)
and checks it (`check_file`), so a workflow, an overlay, a calendar, a routing table, a report and the
message templates each get the checks that fit them. The browser's editor (web/authoring.py) asks
`check_text`: the published tree with the edited text in place of its file, checked the same way, so the
editor and the command line report the same messages.

Only the language, the reports' language and base are imported at the top: `validate` loads no
database. `check_text` reads the published tree, so it imports the runtime when called.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import DefinitionError, Problem
from engine.language.loader import (
    CALENDAR_FILE,
    CALENDARS_DIR,
    MESSAGES_FILE,
    ROLES_FILE,
    ROUTING_FILE,
    SCENARIOS_DIR,
    Loader,
    base_files,
    calendar_files,
    is_estate_file,
    is_overlay,
    message_files,
    overlay_files,
    overlay_target,
    read_source,
    routing_files,
)
from engine.language.messages import ESTATE_MESSAGES_FILE
from engine.reports.loader import REPORTS_DIR, estate_of, report_files, report_problems

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["Kind", "calendar_warnings", "check_calendar", "check_file", "check_text", "kind_of",
           "targets"]

Kind = str  # "workflow", "overlay", "calendar", "routing", "report" (reports/<id>.yaml, estates/<e>/reports/),
# "messages", "estate_file" (another `_` name in an estate folder), or "unreadable" (not a regular file: never opened)


def kind_of(path: Path) -> Kind:
    """What the file at `path` is, from its name and folder (a stat, never a read)."""
    if not path.is_file():  # a stat only: a FIFO or a link to /dev/zero is refused, never read
        return "unreadable"
    if path.name == CALENDAR_FILE or path.parent.name == CALENDARS_DIR:  # calendars/<name>.yaml: a named calendar
        return "calendar"
    if path.parent.name == REPORTS_DIR:  # workflows/reports/<id>.yaml, estates/<e>/reports/<id>.yaml
        return "report"
    if path.name in (MESSAGES_FILE, ESTATE_MESSAGES_FILE):  # resident message templates (engine/language/messages.py)
        return "messages"
    if is_estate_file(path):
        return "routing" if path.name == ROUTING_FILE else "estate_file"
    return "overlay" if is_overlay(path) else "workflow"


def targets(paths: tuple[Path, ...]) -> list[tuple[Path, Kind]]:
    """Every file to check, each with its kind; a folder's top-level scenarios/ holds no definitions."""
    found_targets: list[tuple[Path, Kind]] = []
    for path in paths:
        if path.is_dir():
            found = [*base_files(path), *overlay_files(path), *calendar_files(path), *routing_files(path),
                     *message_files(path), *report_files(path)]
            # Folders of broken examples may nest: take their other .yaml files too.
            scenarios = path / SCENARIOS_DIR
            found += [p for p in sorted(path.rglob("*.yaml"))
                      if p not in found and p.name != ROLES_FILE and scenarios not in p.parents]
            found_targets += [(p, kind_of(p)) for p in found]
        else:
            found_targets.append((path, kind_of(path)))
    return found_targets


def check_calendar(path: Path) -> list[Problem]:
    """The problems of one calendar file."""
    from engine.language.calendar import load_calendar

    try:
        load_calendar(path)
    except DefinitionError as error:
        return error.problems
    return []


def calendar_warnings(checked: list[tuple[Path, Kind]]) -> list[str]:
    """A line per calendar whose holidays are not listed for the next 90 days (the calendar still works)."""
    from engine.clock import SystemClock
    from engine.language.calendar import coverage_gap, load_calendar

    now, lines = SystemClock().now(), []
    for path, kind in checked:
        try:
            calendar = load_calendar(path) if kind == "calendar" else None
        except (DefinitionError, OSError):
            continue  # reported as problems already
        gap = calendar and coverage_gap(str(path), calendar, now.astimezone(calendar.tz).date())
        if gap:
            lines.append(str(gap))
    return lines


def _loader(loaders: dict[Path, Loader], workflows_dir: Path) -> Loader:
    return loaders.get(workflows_dir) or loaders.setdefault(workflows_dir, Loader(workflows_dir))


def check_file(loaders: dict[Path, Loader], default_dir: Path, path: Path, kind: Kind) -> list[Problem]:
    """The problems of one file of kind `kind`; `loaders` caches one Loader per definitions folder and must
    hold `default_dir`'s (the folder a lone workflow file is checked against)."""
    try:
        if kind == "unreadable":
            return list(read_source(path).problems)  # says why, from a stat (engine.language.source.read_text)
        if kind == "calendar":
            return check_calendar(path)
        if kind == "estate_file":
            message = (f"not an overlay (the name starts with _) and not an estate file estateflow knows: "
                       f"the routing table is {ROUTING_FILE}")
            return [Problem(str(path), 1, 1, (), message, "estate_file")]
        if kind == "messages":
            workflows_dir = path.parent if path.name == MESSAGES_FILE else overlay_target(path)[0]
            return _loader(loaders, workflows_dir).messages_problems(path)
        if kind == "report":  # checked against the workflows of the folder it belongs to
            workflows_dir = path.parents[3] if estate_of(path) else path.parent.parent
            workflows_dir = workflows_dir if (workflows_dir / ROLES_FILE).exists() else default_dir
            return report_problems(path, _loader(loaders, workflows_dir))
        if kind == "routing":
            return _loader(loaders, overlay_target(path)[0]).routing_problems(path)
        if kind == "overlay":
            workflows_dir, base, estate = overlay_target(path)
            if not base.exists():
                message = f"overlay of an unknown workflow: there is no {base}"
                return [Problem(str(path), 1, 1, (), message, "overlay")]
            return _loader(loaders, workflows_dir).problems(base, estate=estate)
        return loaders[default_dir].problems(path)
    except DefinitionError as error:
        return error.problems
    except Exception as error:  # noqa: BLE001 - a checker bug must still not print a traceback
        return [Problem(str(path), 1, 1, (), f"internal error while checking: {type(error).__name__}: {error}", "bug")]


def check_text(session: Session, path: str, text: str) -> list[Problem]:
    """The problems `estateflow validate` would report for the file `path` of the published definitions tree
    if its text were `text`: the tree is written to a temporary folder with `text` in place, that one file
    is checked, and only its own problems are kept, named by `path` (a broken base workflow does not show up
    in its overlay's editor). Lines and columns are those of `text`."""
    from engine.runtime.definition_files import materialize  # the runtime loads the store: only when asked

    if path.startswith(f"{SCENARIOS_DIR}/"):
        return []  # a scenario is no definition: trying it runs it (engine/cli/trying.py)
    with tempfile.TemporaryDirectory(prefix="estateflow-check-") as temporary:
        folder = materialize(session, Path(temporary), replace={path: text}, scenarios=False)
        target = folder / path
        try:
            loaders = {folder: Loader(folder)}
        except DefinitionError as error:  # roles.yaml itself (or the one being edited) is broken
            problems = error.problems
        else:
            problems = [] if path == ROLES_FILE else check_file(loaders, folder, target, kind_of(target))
        own = {str(target), str(target.resolve())}
        return sorted({_named(problem, path, folder) for problem in problems if problem.file in own})


def _named(problem: Problem, path: str, folder: Path) -> Problem:
    """`problem` as if the tree were the definitions folder: the file is `path`, and a message naming
    another file of the temporary folder names it by its tree path too."""
    message = problem.message.replace(f"{folder.resolve()}/", "").replace(f"{folder}/", "")
    return Problem(path, problem.line, problem.column, problem.path, message, problem.code)
