"""The `estateflow` command line.

Problems in workflow files print as `FILE:LINE:COL: path.to.key: message`, one per line;
exit 1 when there is any, 2 for bad usage. Expected errors never show a traceback: an
EngineError a command lets through prints through engine.cli.common.fail.

Every command first reads ./estateflow.env when present (engine.settings.load_env_file);
real environment variables win over it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from engine.cli.common import fail
from engine.errors import DefinitionError, EngineError, Problem
from engine.language.loader import (
    CALENDAR_FILE,
    CALENDARS_DIR,
    DEFAULT_WORKFLOWS_DIR,
    MESSAGES_FILE,
    ROLES_FILE,
    ROUTING_FILE,
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
from engine.settings import load_env_file

WORKFLOWS_OPTION = click.option(
    "--workflows",
    "workflows_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="ESTATEFLOW_WORKFLOWS",
    help="The definitions folder (roles.yaml, workflows, estates/). Default: $ESTATEFLOW_WORKFLOWS, else workflows/.",
)


class _LazyGroup(click.Group):
    """Imports a command's module only when that command runs (click's documented lazy-loading
    pattern): `validate` stays quick because it never loads the store, the runtime or Flask."""

    LAZY = {
        "db": "engine.cli.database:db",
        "publish": "engine.cli.database:publish",
        "test": "engine.cli.database:test_cmd",
        "tick": "engine.cli.timers:tick_cmd",
        "due": "engine.cli.timers:due_cmd",
        "send": "engine.cli.outbox:send",
        "demo": "engine.cli.demo:demo",
        "init": "engine.cli.site:init",
        "estate": "engine.cli.accounts:estate",
        "user": "engine.cli.accounts:user",
        "import": "engine.cli.imports:import_cmd",
        "export": "engine.cli.imports:export_cmd",
        "resident": "engine.cli.privacy:resident",
        "serve": "engine.cli.serve:serve",
        "worker": "engine.cli.serve:worker",
        "check": "engine.cli.operations:check",
        "backup": "engine.cli.operations:backup",
        "restore": "engine.cli.operations:restore",
        "report": "engine.cli.reports:report",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY:
            module_name, attribute = self.LAZY[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            return command if isinstance(command, click.Command) else None
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EngineError as error:
            fail(error)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="estateflow")
def main() -> None:
    """estateflow: workflows of the customer-service department, written in YAML."""
    # Before any subcommand parses its options: their defaults ($ESTATEFLOW_DATABASE_URL...) may come from the file.
    load_env_file()


Kind = str  # "workflow", "overlay", "calendar", "routing", "report" (reports/<id>.yaml, estates/<e>/reports/),
# "estate_file" (another `_` name in an estate folder), or "unreadable" (not a regular file: never opened)


def _kind(path: Path) -> Kind:
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


def _targets(paths: tuple[Path, ...]) -> list[tuple[Path, Kind]]:
    """Every file to check, each with its kind."""
    targets: list[tuple[Path, Kind]] = []
    for path in paths:
        if path.is_dir():
            found = [*base_files(path), *overlay_files(path), *calendar_files(path), *routing_files(path),
                     *message_files(path), *report_files(path)]
            # Folders of broken examples may nest: take their other .yaml files too.
            found += [p for p in sorted(path.rglob("*.yaml")) if p not in found and p.name != ROLES_FILE]
            targets += [(p, _kind(p)) for p in found]
        else:
            targets.append((path, _kind(path)))
    return targets


def _check_calendar(path: Path) -> list[Problem]:
    from engine.language.calendar import load_calendar

    try:
        load_calendar(path)
    except DefinitionError as error:
        return error.problems
    return []


def _calendar_warnings(targets: list[tuple[Path, Kind]]) -> list[str]:
    """A line per calendar whose holidays are not listed for the next 90 days (the calendar still works)."""
    from engine.clock import SystemClock
    from engine.language.calendar import coverage_gap, load_calendar

    now, lines = SystemClock().now(), []
    for path, kind in targets:
        try:
            calendar = load_calendar(path) if kind == "calendar" else None
        except (DefinitionError, OSError):
            continue  # reported as problems already
        gap = calendar and coverage_gap(str(path), calendar, now.astimezone(calendar.tz).date())
        if gap:
            lines.append(str(gap))
    return lines


def _check_file(loaders: dict[Path, Loader], default_dir: Path, path: Path, kind: Kind) -> list[Problem]:
    try:
        if kind == "unreadable":
            return list(read_source(path).problems)  # says why, from a stat (engine.language.source.read_text)
        if kind == "calendar":
            return _check_calendar(path)
        if kind == "estate_file":
            message = (f"not an overlay (the name starts with _) and not an estate file estateflow knows: "
                       f"the routing table is {ROUTING_FILE}")
            return [Problem(str(path), 1, 1, (), message, "estate_file")]
        if kind == "messages":
            workflows_dir = path.parent if path.name == MESSAGES_FILE else overlay_target(path)[0]
            loader = loaders.get(workflows_dir) or loaders.setdefault(workflows_dir, Loader(workflows_dir))
            return loader.messages_problems(path)
        if kind == "report":  # checked against the workflows of the folder it belongs to
            workflows_dir = path.parents[3] if estate_of(path) else path.parent.parent
            workflows_dir = workflows_dir if (workflows_dir / ROLES_FILE).exists() else default_dir
            loader = loaders.get(workflows_dir) or loaders.setdefault(workflows_dir, Loader(workflows_dir))
            return report_problems(path, loader)
        if kind == "routing":
            workflows_dir = overlay_target(path)[0]
            loader = loaders.get(workflows_dir) or loaders.setdefault(workflows_dir, Loader(workflows_dir))
            return loader.routing_problems(path)
        if kind == "overlay":
            workflows_dir, base, estate = overlay_target(path)
            if not base.exists():
                message = f"overlay of an unknown workflow: there is no {base}"
                return [Problem(str(path), 1, 1, (), message, "overlay")]
            loader = loaders.get(workflows_dir) or loaders.setdefault(workflows_dir, Loader(workflows_dir))
            return loader.problems(base, estate=estate)
        return loaders[default_dir].problems(path)
    except DefinitionError as error:
        return error.problems
    except Exception as error:  # noqa: BLE001 - a checker bug must still not print a traceback
        return [Problem(str(path), 1, 1, (), f"internal error while checking: {type(error).__name__}: {error}", "bug")]


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@WORKFLOWS_OPTION
def validate(paths: tuple[Path, ...], workflows_dir: Path | None) -> None:
    """Check workflow files (default: the definitions folder) and report every problem."""
    guessed = workflows_dir is None
    if workflows_dir is None:
        folders_with_roles = [p for p in paths if p.is_dir() and (p / ROLES_FILE).exists()]
        workflows_dir = folders_with_roles[0] if folders_with_roles else DEFAULT_WORKFLOWS_DIR
    try:
        loaders = {workflows_dir: Loader(workflows_dir)}
    except DefinitionError as error:
        click.echo(str(error))
        click.echo(f"cannot check anything without the role catalogue {workflows_dir / ROLES_FILE}", err=True)
        if guessed and not (workflows_dir / ROLES_FILE).exists():
            # A file checked outside the site's folder: the roles live with the site's definitions.
            click.echo("pass the definitions folder that holds roles.yaml: estateflow validate FILE "
                       "--workflows DIR (or set ESTATEFLOW_WORKFLOWS)", err=True)
        sys.exit(1)
    targets = _targets(paths or (workflows_dir,))
    problems = [p for path, kind in targets for p in _check_file(loaders, workflows_dir, path, kind)]
    for problem in sorted(set(problems)):
        click.echo(str(problem))
    for warning in _calendar_warnings(targets):
        click.echo(warning, err=True)  # a warning, not a problem: the exit status stays as it is
    files = len(targets)
    if problems:
        bad_files = len({p.file for p in problems})
        click.echo(f"{len(set(problems))} problem(s) in {bad_files} of {files} file(s)", err=True)
        sys.exit(1)
    counts = {kind: sum(1 for _, k in targets if k == kind)
              for kind in ("workflow", "overlay", "calendar", "routing", "report")}
    parts = [f"{counts[k]} {k}(s)" for k in ("workflow", "overlay", "calendar")]
    if counts["routing"]:
        parts.append(f"{counts['routing']} routing table(s)")
    if counts["report"]:
        parts.append(f"{counts['report']} report(s)")
    click.echo(f"OK: {', '.join(parts[:-1])} and {parts[-1]} checked, no problems")


def _definition_path(workflow: str, workflows_dir: Path) -> Path:
    if workflow.endswith(".yaml"):
        return Path(workflow)
    return workflows_dir / f"{workflow}.yaml"


@main.command()
@click.argument("workflow")
@WORKFLOWS_OPTION
@click.option("--estate", default=None, help="Draw the workflow with this estate's overlay.")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
def graph(workflow: str, workflows_dir: Path | None, estate: str | None, fmt: str) -> None:
    """Print the state diagram of WORKFLOW (an id, or a path ending in .yaml)."""
    from engine.language.graph import dot, mermaid

    workflows_dir = workflows_dir or DEFAULT_WORKFLOWS_DIR
    path = _definition_path(workflow, workflows_dir)
    if not path.exists():
        raise click.UsageError(f"no workflow '{workflow}': {path} does not exist")
    try:
        definition = Loader(workflows_dir).load(path, estate=estate)
    except DefinitionError as error:
        fail(error)
    click.echo(mermaid(definition) if fmt == "mermaid" else dot(definition), nl=False)
