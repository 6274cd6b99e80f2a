"""The store commands of the `estateflow` CLI: `db upgrade`, `publish`, `test`.

engine/cli/main.py registers these commands. Expected errors print one clear
line (or the definition problems) and set the exit code (engine/cli/common.py);
never a traceback, never personal data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.common import URL_OPTION, opened, shown_url
from engine.errors import DefinitionError

__all__ = ["db", "publish", "test_cmd"]


@click.group()
def db() -> None:
    """The database: create and migrate its schema."""


@db.command("upgrade")
@URL_OPTION
@click.option("--revision", default="head", show_default=True, help="Migrate to this revision.")
def db_upgrade(url: str | None, revision: str) -> None:
    """Create or migrate the database schema (Alembic migrations)."""
    from sqlalchemy.exc import SQLAlchemyError

    from engine.store.migrate import upgrade

    try:
        upgrade(url, revision)
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        click.echo(f"cannot migrate {shown_url(url)}: {type(cause).__name__}: {str(cause).splitlines()[0]}",
                   err=True)
        sys.exit(1)
    click.echo(f"database {shown_url(url)} is at revision {revision}")


@click.command()
@URL_OPTION
@click.option("--workflows", "workflows_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              envvar="ESTATEFLOW_WORKFLOWS", default=Path("workflows"), show_default=True,
              help="The definitions folder (default: $ESTATEFLOW_WORKFLOWS, else workflows/).")
@click.option("--comment", default=None, metavar="TEXT",
              help="What changed and why, stored with each new version (the versions page shows it).")
def publish(url: str | None, workflows_dir: Path, comment: str | None) -> None:
    """Validate every definition (and estate overlay), routing table, calendar and report; store changed ones
    as new versions, and the folder's files in the database (web and worker processes read them there)."""
    from engine.cli.publishing import publish_files
    from engine.store.db import transaction

    with opened(url, f"publish to {shown_url(url)}") as factory:
        try:
            with transaction(factory) as session:
                outcome = publish_files(session, workflows_dir, by=None, comment=comment or None)
        except DefinitionError as error:
            error.add_note("nothing was published")
            raise
    for p in outcome.workflows:
        where = f" [{p.estate_id}]" if p.estate_id else ""
        status = "published" if p.created else "unchanged"
        click.echo(f"{p.workflow_id}{where} v{p.version}: {status}")
    for r in outcome.routing:
        click.echo(f"routing [{r.estate_id}] v{r.version}: {'published' if r.created else 'unchanged'}")
    for report in outcome.reports:
        where = f" [{report.estate_id}]" if report.estate_id else ""
        click.echo(f"report {report.report_id}{where} v{report.version}: "
                   f"{'published' if report.created else 'unchanged'}")
    click.echo(outcome.files_line)


@click.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--workflows", "workflows_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The definitions folder for workflow ids (default: workflows/).")
def test_cmd(paths: tuple[Path, ...], workflows_dir: Path | None) -> None:
    """Run scenario files (a file, or a folder searched recursively); exit 0 only when all pass."""
    from engine.cli.scenarios import find_scenarios, run_paths

    if not find_scenarios(list(paths)):
        raise click.UsageError("no scenario files (*.yaml) found")
    passed = failed = 0
    for result in run_paths(list(paths), workflows_dir):
        click.echo(str(result))
        passed, failed = (passed + 1, failed) if result.passed else (passed, failed + 1)
    click.echo(f"{passed} passed, {failed} failed", err=True)
    sys.exit(1 if failed else 0)


