"""The time-limit commands of the `estateflow` CLI: `tick` and `due` (registered by engine/cli/main.py).

Both print numbers, workflow titles, state and role labels and times only: never a
field value, so never personal data.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from engine.cli.common import URL_OPTION, opened

if TYPE_CHECKING:  # kept out of the import: `estateflow validate` starts without SQLAlchemy
    from sqlalchemy.orm import Session, sessionmaker

    from engine.runtime.registry import Registry
    from engine.runtime.tick import TickReport

__all__ = ["DueLine", "due_cmd", "due_soon", "tick_cmd", "tick_pass"]

NO_ROLE = "（无升级对象）"


@dataclass(frozen=True, slots=True)
class DueLine:
    """One item falling due, for one role of one estate."""

    estate: str
    role: str
    number: str
    title: str
    state: str
    due_at: datetime
    """In the estate's time zone."""
    late: bool


def due_soon(session: Session, now: datetime, hours: float, *,
             registry: Registry | None = None) -> dict[tuple[str, str], list[DueLine]]:
    """Pending limits of the items' current states due within `hours`: (estate, role) → lines by time.

    An item appears once per role, at its earliest limit for that role; a limit already
    passed (not yet ticked) is included, marked late.
    """
    from engine.runtime.registry import REGISTRY
    from engine.store import queries

    registry = registry or REGISTRY
    groups: dict[tuple[str, str], dict[int, DueLine]] = {}
    for row in queries.upcoming(session.connection(), now + timedelta(hours=hours)):
        definition = registry.compiled(session, row.definition_id, row.content_hash)
        labels = row.role_labels or {}
        line_of = {"number": row.number, "title": definition.title, "state": definition.states[row.state].label,
                   "due_at": row.due_at.astimezone(ZoneInfo(row.timezone)), "late": row.due_at <= now}
        estate = f"{row.estate_name} [{row.estate_id}]"
        for role in row.roles or [""]:
            shown = f"{labels.get(role, role)} ({role})" if role else NO_ROLE
            per_item = groups.setdefault((estate, shown), {})
            per_item.setdefault(row.item_id, DueLine(estate, shown, **line_of))  # rows come earliest first
    return {key: sorted(lines.values(), key=lambda line: line.due_at) for key, lines in sorted(groups.items())}


@click.command("due")
@URL_OPTION
@click.option("--hours", type=click.FloatRange(min=0), default=24, show_default=True,
              help="How far ahead to look.")
@click.option("--now", "at", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]), default=None,
              help="Look from this time instead of now (e.g. 2026-03-02T09:00+0800).")
def due_cmd(url: str | None, hours: float, at: datetime | None) -> None:
    """What falls due within the next N hours, per estate and escalation role."""
    now = at.astimezone(UTC) if at is not None else datetime.now(UTC)
    with opened(url, "read the limits", readonly=True) as factory, factory() as session:
        groups = due_soon(session, now, hours)
    if not groups:
        click.echo(f"nothing falls due within {hours:g} h")
        return
    estate = None
    for (where, role), lines in groups.items():
        if where != estate:
            click.echo(where)
            estate = where
        click.echo(f"  {role}")
        for line in lines:
            late = "  已到期" if line.late else ""
            click.echo(f"    {line.number}  {line.title}  {line.state}  {line.due_at:%Y-%m-%d %H:%M}{late}")


@click.command("tick")
@URL_OPTION
@click.option("--workflows", "workflows_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The definitions folder whose calendar.yaml files count working time until "
                   "`estateflow publish` stores them in the database (default: $ESTATEFLOW_WORKFLOWS, "
                   "else workflows/).")
@click.option("--loop", "interval", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Keep running: a pass every SECONDS (stop with Ctrl-C or SIGTERM).")
@click.option("--batch", type=click.IntRange(min=1), default=500, show_default=True,
              help="Rows read per query (a pass goes on until nothing due is left).")
@click.option("--send", "drain", is_flag=True, help="After each pass, send the outbox too (as `estateflow send`).")
def tick_cmd(url: str | None, workflows_dir: Path | None, interval: float | None, batch: int, drain: bool) -> None:
    """Fire every due warning, escalation and timed transition once (safe with several workers)."""
    from engine.cli.outbox import send_pass, show_logs

    show_logs()
    run = tick_pass(workflows_dir, batch)
    send = send_pass() if drain else None
    stop = threading.Event()
    if interval is not None and threading.current_thread() is threading.main_thread():
        # Stop between passes: each row is its own transaction, so even a hard kill loses nothing.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    failed = 0
    with opened(url, "tick") as factory:
        try:
            while not stop.is_set():
                report = run(factory, interval is None)
                failed = report.failed
                if send is not None:
                    send(factory, False)
                if interval is None:
                    break
                stop.wait(interval)
        except KeyboardInterrupt:
            pass
    sys.exit(1 if failed else 0)


def tick_pass(workflows_dir: Path | None, batch: int = 500) -> Callable[[sessionmaker[Session], bool], TickReport]:
    """One tick pass as `tick` and `worker` run it: `run(factory, always)` fires what is due now (system
    clock, the calendars as published in the database; those of `workflows_dir` only while it holds no
    definition files) and prints the report (when anything happened, or `always`)."""
    from engine.clock import SystemClock
    from engine.runtime.calendars import PublishedCalendars
    from engine.runtime.tick import tick

    calendars: dict[sessionmaker[Session], PublishedCalendars] = {}  # one per database, kept across passes
    clock = SystemClock()

    def run(factory: sessionmaker[Session], always: bool = False) -> TickReport:
        if factory not in calendars:
            calendars[factory] = PublishedCalendars(factory, workflows_dir=workflows_dir)
        counting = calendars[factory]
        report = tick(factory, clock, calendars=counting, batch=batch)
        if always or report.handled or report.busy or report.failed:
            click.echo(f"tick: {report}")
        return report

    return run
