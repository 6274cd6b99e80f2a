"""`estateflow report`: a published report as JSON, CSV or XLSX, and `report send` for cron.

    estateflow report NAME --estate E [--from D] [--to D] [--format json|csv|xlsx] [-o FILE]
    estateflow report send NAME --estate E [--period last-week|last-month|last-quarter]

`send` is the one subcommand; any other first word is a report's id (a report may not be called
`send`: the report checks refuse it). The reports are read from the database, as published by
`estateflow publish` (engine.reports.published.current), never from the YAML files, like the web.
Figures are computed as the system actor: the command is the operator's, who sees every item.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.cli.common import URL_OPTION, opened

if TYPE_CHECKING:  # kept out of the import: `estateflow validate` starts without SQLAlchemy
    from sqlalchemy.orm import Session

    from engine.reports.definition import ReportDefinition
    from engine.reports.result import Period

__all__ = ["report"]

FORMATS = ("json", "csv", "xlsx")
SEND_PERIODS = ("last-week", "last-month", "last-quarter", "yesterday")
_SHOW = "show"  # the hidden command that prints a report; `report NAME` resolves to it
_NOW = click.option("--now", "at", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]), default=None,
                    help="As if run at this time (e.g. 2026-11-30T08:00+0800): the default period, 生成时间.")


class _NamedContext(click.Context):
    # `report NAME` runs `show` under no name of its own: its usage line reads "estateflow report NAME".
    @property
    def command_path(self) -> str:
        return " ".join(super().command_path.split())


class _Show(click.Command):
    context_class = _NamedContext


class _ReportGroup(click.Group):
    """`send` is a subcommand; any other first word is a report NAME, printed by the hidden `show`."""

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            return "", self.commands[_SHOW], args
        return super().resolve_command(ctx, args)


@click.group(cls=_ReportGroup, subcommand_metavar="NAME [OPTIONS] | send NAME [OPTIONS]")
def report() -> None:
    """Compute a published report, or put it in the outbox to be e-mailed.

    \b
    estateflow report NAME --estate E [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format json|csv|xlsx] [-o FILE]
        the report for one estate over the inclusive local dates (default: the report's own
        period, e.g. this week); json (the default) prints only JSON on stdout, notes go to stderr;
        xlsx is always written to a file (-o, else a name made of the report, estate and dates).
    estateflow report send NAME --estate E [--period last-week|last-month|last-quarter]
        an e-mail with the XLSX attached, in the outbox for each role of the report's send_to;
        `estateflow send` (or the worker) delivers it. Run it from cron (docs/operations.md).
    """


def _now(at: datetime | None) -> datetime:
    return at.astimezone(UTC) if at is not None else datetime.now(UTC)


def _load(session: Session, name: str, estate: str, now: datetime) -> tuple[ReportDefinition, date]:
    """The published report for the estate and the estate's local date at `now`; an error when either is
    unknown (printed as one line, exit 1)."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from engine.errors import EngineError
    from engine.reports.published import current
    from engine.store.models import Estate

    zone = session.scalar(select(Estate.timezone).where(Estate.id == estate))
    if zone is None:
        raise EngineError(f"no estate '{estate}' (estates are added with `estateflow estate add`)")
    definition = current(session, name, estate)
    if definition is None:
        raise EngineError(f"no published report '{name}' for estate '{estate}' "
                          f"(is there a workflows/reports/{name}.yaml, and has `estateflow publish` been run?)")
    return definition, now.astimezone(ZoneInfo(zone)).date()


def _period(definition: ReportDefinition, today: date, start: date | None, end: date | None) -> Period:
    """--from/--to as given; a missing one from the report's default range (its `periods` × `period`)."""
    from engine.reports.periods import between, span

    default = span(definition.period, definition.periods, end or today)
    try:
        return between(start or default.start, end or default.end)
    except ValueError as error:
        raise click.BadParameter(f"{error}: --from {start or default.start} --to {end or default.end}",
                                 param_hint="'--from' / '--to'") from None


def _write(data: bytes, output: Path | None, default_name: str, fmt: str) -> None:
    """To the file asked for; stdout for json and csv without -o, or with `-o -`; XLSX never to a terminal."""
    to_stdout = str(output) == "-" or (output is None and fmt != "xlsx")
    if to_stdout and fmt == "xlsx" and sys.stdout.isatty():
        raise click.UsageError("an XLSX file is not for a terminal: -o FILE, or pipe `-o -` into a program")
    if to_stdout:
        click.echo(data, nl=False)  # bytes: straight to the binary stream, no re-encoding
        return
    target = output or Path(default_name)
    target.write_bytes(data)
    click.echo(f"wrote {target}", err=True)


def json_text(document: dict[str, Any]) -> str:
    """The JSON indented for a reader, each row of a table on one line (still one JSON document)."""
    def dumps(value: object) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["{", *(f"  {dumps(key)}: {dumps(value)}," for key, value in document.items() if key != "tables"),
             '  "tables": [']
    for number, table in enumerate(document["tables"], start=1):
        rows = ["      \"rows\": [", ",\n".join(f"        {dumps(row)}" for row in table["rows"]), "      ]"]
        lines += ["    {", f'      "title": {dumps(table["title"])},', f'      "columns": {dumps(table["columns"])},',
                  *(rows if table["rows"] else ['      "rows": []']),
                  "    }" + ("," if number < len(document["tables"]) else "")]
    return "\n".join([*lines, "  ]", "}"]) + "\n"


@report.command(_SHOW, cls=_Show, hidden=True)
@click.argument("name")
@click.option("--estate", required=True, help="The estate's id (one estate).")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day, inclusive, the estate's local date (default: the report's period).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day, inclusive (any length after --from).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="json (default; or from -o's extension), csv (UTF-8 with BOM) or xlsx.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE (- for stdout) instead of stdout (xlsx: default NAME_ESTATE_FROM_TO.xlsx).")
@URL_OPTION
@_NOW
def show(name: str, estate: str, start: datetime | None, end: datetime | None, fmt: str | None,
         output: Path | None, url: str | None, at: datetime | None) -> None:
    """Compute report NAME for one estate and print or write it."""
    from engine.access.actor import Actor
    from engine.reports.compute import compute
    from engine.reports.export import file_name, to_csv, to_json, to_xlsx
    from engine.runtime.calendars import PublishedCalendars

    if fmt is None:  # -o's extension, else JSON
        suffix = output.suffix.lstrip(".").lower() if output is not None else ""
        fmt = suffix if suffix in FORMATS else "json"
    now = _now(at)
    with opened(url, f"compute report {name}", readonly=True) as factory, factory() as session:
        definition, today = _load(session, name, estate, now)
        period = _period(definition, today, start and start.date(), end and end.date())
        result = compute(session, Actor.system(), definition, estates=[estate], period=period, now=now,
                         calendars=PublishedCalendars(factory))  # working time as published, like the web's
    for warning in result.warnings:
        click.echo(f"note: {warning}", err=True)
    if fmt == "json":
        text = json_text(to_json(result))
        _write(text.encode("utf-8"), output, file_name(result, "json"), fmt)
    elif fmt == "csv":
        _write(to_csv(result), output, file_name(result, "csv"), fmt)
    else:
        _write(to_xlsx(result), output, file_name(result, "xlsx"), fmt)


@report.command("send")
@click.argument("name")
@click.option("--estate", required=True, help="The estate's id.")
@click.option("--period", "period_name", type=click.Choice(SEND_PERIODS), default=None,
              help="The period sent (default: the last whole one of the report's own period: last-week for a "
                   "weekly report).")
@URL_OPTION
@_NOW
def send(name: str, estate: str, period_name: str | None, url: str | None, at: datetime | None) -> None:
    """Put report NAME (XLSX attached) in the outbox for each role of its send_to; one line per e-mail."""
    from engine.errors import EngineError
    from engine.reports.periods import named
    from engine.reports.sending import send_report, subject
    from engine.runtime.calendars import PublishedCalendars
    from engine.store.db import transaction

    now = _now(at)
    with opened(url, f"send report {name}") as factory:
        with transaction(factory) as session:
            definition, today = _load(session, name, estate, now)
            if not definition.send_to:
                raise EngineError(f"report '{name}' names nobody to send it to: add `send_to: [ROLE, ...]` "
                                  f"to workflows/reports/{name}.yaml and publish")
            chosen = period_name or {"day": "yesterday"}.get(definition.period, f"last-{definition.period}")
            period = named(chosen, today)
            ids = send_report(session, definition, estate, period, now=now, calendars=PublishedCalendars(factory))
    for outbox_id, role in zip(ids, definition.send_to, strict=True):
        click.echo(f"outbox {outbox_id}: {subject(definition.title, period)} for role {role} in {estate}")
