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

from engine.cli import checking
from engine.cli.common import fail
from engine.errors import DefinitionError, EngineError
from engine.language.loader import DEFAULT_WORKFLOWS_DIR, ROLES_FILE, Loader
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
        "migrate": "engine.cli.migrate_items:migrate",
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
    targets = checking.targets(paths or (workflows_dir,))
    problems = [p for path, kind in targets for p in checking.check_file(loaders, workflows_dir, path, kind)]
    for problem in sorted(set(problems)):
        click.echo(str(problem))
    for warning in checking.calendar_warnings(targets):
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
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid", show_default=True)
@click.option("--focus", default=None, metavar="STATE", help="Only the steps into and out of this state.")
def graph(workflow: str, workflows_dir: Path | None, estate: str | None, fmt: str, focus: str | None) -> None:
    """Print the state diagram of WORKFLOW (an id, or a path ending in .yaml): Mermaid, DOT, or the
    SVG the workflow page draws (without its counts and links)."""
    from engine.language.drawing import svg
    from engine.language.graph import dot, mermaid

    workflows_dir = workflows_dir or DEFAULT_WORKFLOWS_DIR
    path = _definition_path(workflow, workflows_dir)
    if not path.exists():
        raise click.UsageError(f"no workflow '{workflow}': {path} does not exist")
    try:
        definition = Loader(workflows_dir).load(path, estate=estate)
    except DefinitionError as error:
        fail(error)
    if focus is not None and focus not in definition.states:
        raise click.UsageError(f"no state '{focus}' in workflow '{definition.id}'")
    drawn = {"mermaid": mermaid, "dot": dot, "svg": svg}[fmt](definition, focus=focus)
    click.echo(drawn if fmt != "svg" else drawn + "\n", nl=False)
