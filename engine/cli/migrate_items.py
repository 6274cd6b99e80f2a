"""`estateflow migrate WORKFLOW --estate E [--from-version N] [--map OLD=NEW ...] [--dry-run] [--batch N]`.

Moves the open items of a workflow in one estate to its newest published version
(engine/runtime/item_migration.py). Prints one line per item: its number, old → new state, the
fields the new version requires that it lacks and the deadlines that change (numbers, state ids and
labels, times: never a field value). A state with no target prints the states and their items and
exits 1 with nothing written. Each batch is one transaction: a run stopped halfway (even by
kill -9) has moved whole batches, and running the command again moves the rest.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.common import URL_OPTION, opened, shown_url

if TYPE_CHECKING:
    from engine.runtime.item_migration import MigrationPlan

__all__ = ["migrate"]


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise click.BadParameter(f"{pair!r} is not OLD=NEW", param_hint="--map")
        found[old.strip()] = new.strip()
    return found


def _time(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment is not None else "（无）"


def _print_plan(plan: MigrationPlan) -> None:
    for move in plan.moves:
        line = f"{move.number}: v{move.from_version} → v{plan.target_version}, {move.old_state} → {move.new_state}"
        if move.old_state != move.new_state:
            line += f" ({move.old_label} → {move.new_label})"
        click.echo(line)
        if move.missing_fields:
            click.echo(f"  missing required fields: {'、'.join(move.missing_fields)}")
        for change in move.deadlines:
            click.echo(f"  deadline {change.label}: {_time(change.old_due)} → {_time(change.new_due)}")


@click.command("migrate")
@click.argument("workflow")
@click.option("--estate", required=True, help="The estate whose items move.")
@click.option("--from-version", type=click.IntRange(min=1), default=None,
              help="Move only the items on this version (default: every version but the newest).")
@click.option("--map", "pairs", multiple=True, metavar="OLD=NEW",
              help="Where the items of a state the new version no longer has go (repeatable).")
@click.option("--dry-run", is_flag=True, help="Print what would move and write nothing.")
@click.option("--batch", type=click.IntRange(min=1), default=100, show_default=True,
              help="Items moved per transaction.")
@click.option("--by", "username", default=None, metavar="USERNAME",
              help="Record the move in each item's history as done by this user "
                   "(default: 命令行, the command line, as `estateflow import` records its changes).")
@click.option("--workflows", "workflows_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="ESTATEFLOW_WORKFLOWS",
              help="The definitions folder whose calendar.yaml files count working time until `estateflow "
                   "publish` stores them in the database, as for `estateflow tick`.")
@URL_OPTION
def migrate(workflow: str, estate: str, from_version: int | None, pairs: tuple[str, ...], dry_run: bool,
            batch: int, username: str | None, workflows_dir: Path | None, url: str | None) -> None:
    """Move the open items of WORKFLOW in an estate to its newest published version.

    States keep their name when the new version has it; give --map OLD=NEW for the others.
    Each item gets one history event (who, from which version, the map); its pending deadlines are
    counted again by the new version from when it entered its state (escalations already done stay
    done); an item changed meanwhile is skipped and reported. Safe to run again.
    """
    from sqlalchemy import select

    from engine.access.actor import load_actor
    from engine.cli.accounts import CLI_ACTOR
    from engine.clock import SystemClock
    from engine.errors import UnmappedStates
    from engine.runtime.calendars import PublishedCalendars
    from engine.runtime.item_migration import apply_migration, plan_migration
    from engine.store.models import Estate, User

    mapping = _mapping(pairs)
    clock = SystemClock()
    with opened(url, f"move items in {shown_url(url)}") as factory:
        # The calendars as published, the ones `tick` and the web count by (the folder only before a publish).
        calendars = PublishedCalendars(factory, workflows_dir=workflows_dir)
        with factory() as session:
            if session.get(Estate, estate) is None:
                click.echo(f"no such estate: {estate}", err=True)
                sys.exit(1)
            actor = CLI_ACTOR
            if username is not None:
                user_id = session.scalar(select(User.id).where(User.username == username))
                if user_id is None:
                    click.echo(f"no such user: {username}", err=True)
                    sys.exit(1)
                actor = load_actor(session, user_id)
            plan = plan_migration(session, workflow, estate, from_version=from_version, mapping=mapping,
                                  calendars=calendars, clock=clock, with_deadlines=dry_run)
        if plan.unmapped:
            click.echo(str(UnmappedStates(dict(plan.unmapped))))
            click.echo("nothing was written: give --map OLD=NEW for each state above", err=True)
            sys.exit(1)
        if dry_run:
            _print_plan(plan)
            click.echo("dry run: nothing was written", err=True)
            click.echo(f"{len(plan.moves)} item(s) would move to version {plan.target_version}")
            return
        _print_plan(plan)
        report = apply_migration(factory, plan, actor=actor, batch=batch, calendars=calendars, clock=clock,
                                 on_batch=lambda moved, skipped: click.echo(
                                     f"committed: {moved} moved, {skipped} skipped of {len(plan.moves)}"))
    for number, _ in report.skipped:
        click.echo(f"{number}: skipped, it changed meanwhile (run again to move it)")
    click.echo(f"{report.moved} item(s) moved to version {report.target_version}, {len(report.skipped)} skipped")
