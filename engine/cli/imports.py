"""`estateflow import units|users FILE [--dry-run]` and `estateflow export units|users --estate E [--out FILE]`.

Imports read CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX and are all or nothing: every bad row
prints as `FILE:ROW: column: message` (the header is row 1), the exit status is 1 and nothing
is written. Otherwise each row prints as the preview shows it, and the last line is
`N added, M updated, K unchanged`. `--dry-run` prints the same and writes nothing. An import
of users prints each new user's one-time password once (they must change it at the first
login). Never prompts: meant for scripts. The changes are recorded in the audit log as done
by 命令行 (engine/cli/accounts.py CLI_ACTOR).

Exports write the same columns (CSV, UTF-8 with BOM for Excel, or XLSX by the file's
extension; standard output when no --out), so an export imports back unchanged; the export
is written to the access log (kind 'export').
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.cli.accounts import CLI_ACTOR, WORKFLOWS_OPTION, refusals, role_catalogue_for
from engine.cli.common import URL_OPTION, opened, shown_url

if TYPE_CHECKING:
    from engine.org.plans import ImportPlan

__all__ = ["export_cmd", "import_cmd"]

_FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
_DRY_RUN = click.option("--dry-run", is_flag=True, help="Print what would change and write nothing.")


def _shown(value: Any) -> str:
    if value is None or value == []:
        return "（空）"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def _print_plan(plan: ImportPlan) -> None:
    for row in plan.rows:
        changes = "; ".join(f"{field}: {_shown(old)} -> {_shown(new)}" for field, (old, new) in row.changes.items())
        click.echo(f"{plan.filename}:{row.number}: {row.action} {row.key}" + (f" ({changes})" if changes else ""))


def _run(kind: str, file: Path, dry_run: bool, url: str | None, workflows_dir: Path) -> None:
    from engine.errors import TableError
    from engine.org import imports
    from engine.store.db import transaction

    try:
        rows = imports.read_table(file.read_bytes(), file.name)
    except TableError as error:
        click.echo(str(error))
        sys.exit(1)
    with opened(url, f"import into {shown_url(url)}") as factory, refusals():
        with factory() as session:  # planning only reads
            catalogue = role_catalogue_for(session, workflows_dir)[0] if kind == "users" else None
            if kind == "users":
                plan = imports.plan_users(session, CLI_ACTOR, rows, str(file), catalogue=catalogue)
            else:
                plan = imports.plan_units(session, CLI_ACTOR, rows, str(file))
        if plan.problems:
            click.echo(str(TableError(plan.problems)))
            click.echo(f"{len(plan.problems)} problem(s): nothing was written", err=True)
            sys.exit(1)
        _print_plan(plan)
        if dry_run:
            click.echo("dry run: nothing was written", err=True)
            click.echo(plan.summary)
            return
        with transaction(factory) as session:  # plans again and writes, all or nothing
            applied = imports.apply(session, CLI_ACTOR, plan, catalogue=catalogue)
        for username, password in applied.passwords.items():
            click.echo(f"one-time password for {username} (to be changed at the first login): {password}")
        click.echo(applied.plan.summary)


@click.group("import")
def import_cmd() -> None:
    """Import units and residents, or staff, from a CSV or XLSX file (all or nothing)."""


@import_cmd.command("units")
@_FILE
@_DRY_RUN
@URL_OPTION
def import_units(file: Path, dry_run: bool, url: str | None) -> None:
    """Units and residents. Columns: estate, building, unit, owner_name, owner_phone; optional tenant_name,
    tenant_phone, area_m2, tags (separated by ;). A building named in the file is created with it."""
    _run("units", file, dry_run, url, Path("workflows"))


@import_cmd.command("users")
@_FILE
@_DRY_RUN
@WORKFLOWS_OPTION
@URL_OPTION
def import_users(file: Path, dry_run: bool, workflows_dir: Path, url: str | None) -> None:
    """Staff. Columns: username, name, estate, roles (separated by ;), phone, email; one row per user and
    estate. Each new user's one-time password is printed once."""
    _run("users", file, dry_run, url, workflows_dir)


def _export(kind: str, estate_id: str, out: Path | None, url: str | None) -> None:
    from engine.org import exports
    from engine.org.tables import write_table
    from engine.store.db import transaction

    with opened(url, f"export from {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        columns: tuple[str, ...]
        if kind == "units":
            rows, columns = exports.export_units(session, CLI_ACTOR, estate_id), exports.UNIT_COLUMNS
        else:
            rows, columns = exports.export_users(session, CLI_ACTOR, estate_id), exports.USER_COLUMNS
        data = write_table(columns, rows, out.name if out is not None else "export.csv")
        if out is None:
            sys.stdout.buffer.write(data[3:])  # no BOM on a terminal or a pipe
            sys.stdout.buffer.flush()
        else:
            out.write_bytes(data)
            click.echo(f"{len(rows)} row(s) written to {out}", err=True)


@click.group("export")
def export_cmd() -> None:
    """Export units and residents, or staff, in the columns their import reads."""


_ESTATE = click.option("--estate", "estate_id", required=True, help="The estate to export.")
_OUT = click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                    help="FILE.csv (UTF-8 with BOM, for Excel) or FILE.xlsx; default: CSV on standard output.")


@export_cmd.command("units")
@_ESTATE
@_OUT
@URL_OPTION
def export_units(estate_id: str, out: Path | None, url: str | None) -> None:
    """The estate's units with their current owner and tenant (logged in the access log)."""
    _export("units", estate_id, out, url)


@export_cmd.command("users")
@_ESTATE
@_OUT
@URL_OPTION
def export_users(estate_id: str, out: Path | None, url: str | None) -> None:
    """The estate's staff with the roles they hold there."""
    _export("users", estate_id, out, url)
