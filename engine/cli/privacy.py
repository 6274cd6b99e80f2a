"""`estateflow resident ...`: the residents' rights over their data (PIPL), from the command line.

    resident list --estate E --unit U                  the unit's residents with their ids
    resident export RESIDENT_ID [--format json|csv] [--out FILE]   their record and their units' items
    resident correct RESIDENT_ID [--name NAME] [--phone PHONE]     a corrected name or phone
    resident anonymise RESIDENT_ID                     one resident who has moved out
    resident anonymise --moved-out-before DATE         everyone who moved out before DATE
    resident anonymise --retention                     everyone past ESTATEFLOW_RESIDENT_RETENTION_DAYS
    resident prune-log                                 drop access-log rows past ESTATEFLOW_ACCESS_LOG_DAYS

Every act goes through engine/org/privacy.py and is written to the access log (kind 'privacy')
as done by 命令行.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import click

from engine.cli.accounts import CLI_ACTOR, refusals
from engine.cli.common import URL_OPTION, opened, shown_url

__all__ = ["resident"]


@click.group()
def resident() -> None:
    """Residents' data: list, export on request, correct, anonymise (个人信息保护法)."""


@resident.command("list")
@click.option("--estate", "estate_id", required=True)
@click.option("--unit", "number", required=True, help="The 房号, e.g. 3-1-502.")
@URL_OPTION
def resident_list(estate_id: str, number: str, url: str | None) -> None:
    """The residents of a unit, current and past, with the ids the other commands take."""
    from sqlalchemy import select

    from engine.language.fields import normalise_unit
    from engine.org.estates import KINDS
    from engine.store.models import Resident, Unit

    with opened(url, f"read {shown_url(url)}", readonly=True) as factory, factory() as session:
        unit = session.scalar(select(Unit).where(Unit.estate_id == estate_id, Unit.number == normalise_unit(number)))
        if unit is None:
            raise click.ClickException(f"no unit {number} in estate {estate_id}")
        for row in session.scalars(select(Resident).where(Resident.unit_id == unit.id).order_by(Resident.id)):
            state = "anonymised" if row.anonymised_at else f"moved out {row.moved_out_on}" if row.moved_out_on \
                else "current"
            click.echo(f"{row.id}\t{KINDS.get(row.kind, row.kind)}\t{row.name}\t{row.phone or ''}\t{state}")


@resident.command("export")
@click.argument("resident_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE (default: standard output).")
@URL_OPTION
def resident_export(resident_id: int, fmt: str, out: Path | None, url: str | None) -> None:
    """Everything held about a resident, on their request: their record(s) and their unit's items."""
    from engine.org.privacy import export_resident
    from engine.store.db import transaction

    with opened(url, f"export from {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        exported = export_resident(session, CLI_ACTOR, resident_id)
    data = exported.as_json().encode("utf-8") + b"\n" if fmt == "json" else exported.as_csv()
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        out.write_bytes(data)
        click.echo(f"resident {resident_id}: exported to {out}", err=True)


@resident.command("correct")
@click.argument("resident_id", type=int)
@click.option("--name", default=None)
@click.option("--phone", default=None)
@URL_OPTION
def resident_correct(resident_id: int, name: str | None, phone: str | None, url: str | None) -> None:
    """Correct a resident's name or phone on their request (audited)."""
    from engine.org.privacy import correct_resident
    from engine.store.db import transaction

    if name is None and phone is None:
        raise click.UsageError("give --name or --phone")
    with opened(url, f"correct in {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        correct_resident(session, CLI_ACTOR, resident_id, name=name, phone=phone)
    click.echo(f"resident {resident_id}: corrected")


@resident.command("anonymise")
@click.argument("resident_id", type=int, required=False)
@click.option("--moved-out-before", "before", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Every resident who moved out before this date (YYYY-MM-DD).")
@click.option("--retention", is_flag=True,
              help="Every resident who moved out more than ESTATEFLOW_RESIDENT_RETENTION_DAYS days ago.")
@URL_OPTION
def resident_anonymise(resident_id: int | None, before: object, retention: bool, url: str | None) -> None:
    """Replace the names and phones of residents who moved out (figures are kept for reports)."""
    from datetime import datetime

    from engine.clock import SystemClock
    from engine.org.privacy import anonymise, anonymise_moved_out, retention_days
    from engine.store.db import transaction

    if sum((resident_id is not None, before is not None, retention)) != 1:
        raise click.UsageError("give one of RESIDENT_ID, --moved-out-before DATE or --retention")
    now = SystemClock().now()
    with opened(url, f"anonymise in {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        if resident_id is not None:
            items = anonymise(session, CLI_ACTOR, resident_id, now=now)
            click.echo(f"resident {resident_id}: anonymised ({items} item(s) changed)")
            return
        cutoff = before.date() if isinstance(before, datetime) else date.today() - timedelta(days=retention_days())
        done = anonymise_moved_out(session, CLI_ACTOR, cutoff, now=now)
    click.echo(f"{len(done)} resident(s) who moved out before {cutoff} anonymised")


@resident.command("prune-log")
@URL_OPTION
def resident_prune_log(url: str | None) -> None:
    """Delete access-log rows older than ESTATEFLOW_ACCESS_LOG_DAYS (never younger than 183 days); run daily."""
    from engine.clock import SystemClock
    from engine.org.audit import access_log_days, prune_access_log
    from engine.store.db import transaction

    days = access_log_days()
    with opened(url, f"prune the access log in {shown_url(url)}") as factory, transaction(factory) as session:
        removed = prune_access_log(session, SystemClock().now(), days)
    click.echo(f"access log: {removed} row(s) older than {days} days removed")
