"""Estates and staff accounts, for scripted set-up: `estateflow estate ...` and `estateflow user ...`.

    estate add ID --name NAME [--timezone TZ]          add an estate, or update its name and zone
    user add USERNAME --name NAME --estate E --role R... [--password-stdin]
                                                       add a user, or give them roles in one more estate
    user disable USERNAME [--hand-over-to OTHER]       no more logins; open items go to OTHER
    user enable USERNAME                               may log in again
    user leave USERNAME --stand-in OTHER / user back USERNAME
    user reset-password USERNAME                       a one-time password, printed as the last line
    user password USERNAME --password-stdin            a new password; every session ends at once

Every change goes through engine/org (the same functions as the admin pages), so it is checked
the same way and recorded in the audit log as done by 命令行. Passwords come from standard
input only (an argument would show in `ps` and the shell history) and are never printed; a
one-time password is printed once, for the admin to hand over, and must be changed at the
first login.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.access.actor import Actor
from engine.cli.common import URL_OPTION, opened, shown_url
from engine.errors import InvalidFields, TransitionError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.store.models import User

__all__ = ["CLI_ACTOR", "WORKFLOWS_OPTION", "estate", "refusals", "role_catalogue_for", "user"]

CLI_ACTOR = replace(Actor.system(), name="命令行")
"""Who the audit log says made a change from the command line (whoever may run it owns the database)."""
MAX_PASSWORD = 1024
_ESTATE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True,
    help="Read the password from standard input (its first line; typed twice, hidden, on a terminal).")
WORKFLOWS_OPTION = click.option("--workflows", "workflows_dir", type=click.Path(file_okay=False, path_type=Path),
                          envvar="ESTATEFLOWWORKFLOWS_OPTION", default=Path("workflows"), show_default=True,
                          help="Where roles.yaml is read when nothing is published yet.")


def _refuse(message: str) -> click.ClickException:
    """A one-line refusal (exit 1, no traceback); raised inside a transaction, it rolls it back."""
    return click.ClickException(message)


@contextmanager
def refusals() -> Iterator[None]:
    """An engine refusal (InvalidFields, NotPermitted...) as one line: its Chinese message, exit 1."""
    try:
        yield
    except InvalidFields as error:
        raise _refuse("；".join(error.fields.values())) from None
    except TransitionError as error:
        raise _refuse(error.message) from None


def _text(value: str, what: str, longest: int) -> str:
    value = value.strip()
    if not value or len(value) > longest or any(ord(c) < 32 for c in value):
        raise _refuse(f"{what} must be 1 to {longest} characters, with no control characters")
    return value


# -- estates ----------------------------------------------------------------------------------


@click.group()
def estate() -> None:
    """Estates (小区/项目): items, users and overlays belong to one."""


def _zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _refuse(f"unknown time zone '{name}': use an IANA name such as Asia/Shanghai") from None
    return name


@estate.command("add")
@click.argument("estate_id", metavar="ID")
@click.option("--name", required=True, help="The estate's name as staff know it, e.g. 阳光花园.")
@click.option("--timezone", "zone", default=None,
              help="IANA time zone of the estate's working hours (default: Asia/Shanghai; kept when re-run).")
@URL_OPTION
def estate_add(estate_id: str, name: str, zone: str | None, url: str | None) -> None:
    """Add the estate ID; run again with the same ID to change its name or time zone."""
    from engine.org.estates import save_estate
    from engine.store.db import transaction
    from engine.store.models import Estate

    if not _ESTATE_ID.match(estate_id):
        raise _refuse(f"'{estate_id}' is not a valid estate id: lowercase letters, digits, _ and -, at most 64")
    name = _text(name, "the name", 200)
    zone = _zone(zone) if zone is not None else None
    with opened(url, f"add the estate to {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        before = session.get(Estate, estate_id)
        old = (before.name, before.timezone) if before is not None else None
        row = save_estate(session, CLI_ACTOR, estate_id, name=name, timezone=zone)
        if old is None:
            click.echo(f"estate {estate_id}: added ({row.name}, {row.timezone})")
            return
        changes = [f"name {old[0]} -> {row.name}"] if old[0] != row.name else []
        changes += [f"time zone {old[1]} -> {row.timezone}"] if old[1] != row.timezone else []
        click.echo(f"estate {estate_id}: updated ({'; '.join(changes)})" if changes else
                   f"estate {estate_id}: unchanged ({row.name}, {row.timezone})")


# -- users ------------------------------------------------------------------------------------


@click.group()
def user() -> None:
    """Staff accounts: add, roles per estate, disable, leave, passwords."""


def _read_password(username: str) -> str:
    """The password from standard input, checked by engine.org.staff.password_problem."""
    from engine.org.staff import password_problem

    password: str
    if sys.stdin.isatty():
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))
    else:
        password = sys.stdin.readline(MAX_PASSWORD + 2).rstrip("\r\n")
    if not password:
        raise _refuse("no password on standard input")
    problem = password_problem(username, password)
    if problem is not None:
        raise _refuse(problem)
    return password


def role_catalogue_for(session: Session, workflows_dir: Path) -> tuple[Mapping[str, str], str]:
    """The roles a user may hold, and where they come from: the published definitions' catalogue
    (what the running site checks against), else roles.yaml when nothing is published yet."""
    from engine.errors import DefinitionError
    from engine.language.loader import ROLES_FILE, load_roles
    from engine.org.roles import role_catalogue

    published = role_catalogue(session)
    if published:
        return published, "the published role catalogue (estateflow publish)"
    try:
        return load_roles(workflows_dir), f"{workflows_dir / ROLES_FILE} (nothing is published yet)"
    except DefinitionError:
        raise _refuse(f"no workflows are published and {workflows_dir / ROLES_FILE} cannot be read: "
                      "run estateflow publish first") from None


def _check_roles(roles: tuple[str, ...], catalogue: Mapping[str, str], source: str) -> None:
    from engine.language.schema import suggest

    for role in roles:
        if role not in catalogue:
            raise _refuse(f"unknown role '{role}'{suggest(role, catalogue)}: the roles are those of {source}")


def _find_user(session: Session, username: str) -> User:
    from sqlalchemy import select

    from engine.store.models import User

    found = session.scalar(select(User).where(User.username == username))
    if found is None:
        raise _refuse(f"no user '{username}'")
    return found


def _open_sessions(session: Session, user_id: int) -> int:
    from sqlalchemy import func, select

    from engine.store.models import LoginSession

    return int(session.scalar(select(func.count()).select_from(LoginSession)
                              .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))) or 0)


@user.command("add")
@click.argument("username")
@click.option("--name", required=True, help="The name staff see, e.g. 张敏.")
@click.option("--estate", "estate_id", required=True, help="The estate the roles are held in (estateflow estate add).")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role id of the role catalogue, held in that estate; repeat for several.")
@_PASSWORD_STDIN
@WORKFLOWS_OPTION
@URL_OPTION
def user_add(username: str, name: str, estate_id: str, roles: tuple[str, ...], password_stdin: bool,
             workflows_dir: Path, url: str | None) -> None:
    """Add USERNAME with ROLEs in ESTATE. Run again for the same user to add roles, or another estate
    with its roles (and a new password, with --password-stdin; that ends the user's sessions).
    Without --password-stdin a new user gets a one-time password, printed as the last line, to be
    changed at the first login."""
    from sqlalchemy import select

    from engine.org import staff
    from engine.store.db import transaction
    from engine.store.models import Estate, User, UserRole

    if not _USERNAME.match(username):
        raise _refuse(f"'{username}' is not a valid username: letters, digits, . _ @ and -, at most 100")
    name = _text(name, "the name", 200)
    password = _read_password(username) if password_stdin else None
    with opened(url, f"add the user to {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        if session.get(Estate, estate_id) is None:
            raise _refuse(f"no estate '{estate_id}': add it first with estateflow estate add {estate_id} --name NAME")
        catalogue, source = role_catalogue_for(session, workflows_dir)
        _check_roles(roles, catalogue, source)
        row = session.scalar(select(User).where(User.username == username))
        created, changes, one_time = row is None, list[str](), None
        if row is None:
            row, one_time = staff.add_user(session, CLI_ACTOR, username, name=name, password=password)
        else:
            if row.display_name != name:
                staff.update_user(session, CLI_ACTOR, row.id, name=name)
                changes.append("name changed")
            if password is not None:
                ended = staff.set_password(session, CLI_ACTOR, row.id, password)
                changes.append(f"password changed, {ended} session(s) ended")
        held = set(session.scalars(select(UserRole.role).where(UserRole.user_id == row.id,
                                                               UserRole.estate_id == estate_id)))
        new_roles = [r for r in dict.fromkeys(roles) if r not in held]
        if not held and new_roles:
            changes.append(f"estate {estate_id} added")
        changes += [f"role {r} added" for r in new_roles]
        if new_roles:
            staff.set_roles(session, CLI_ACTOR, row.id, estate_id, held | set(new_roles), catalogue=catalogue)
        disabled = "" if row.active else " (the user is disabled)"
        if created:
            click.echo(f"user {username}: added (estate {estate_id}; roles {', '.join(dict.fromkeys(roles))})")
        elif not changes:
            click.echo(f"user {username}: unchanged{disabled}")
        else:
            click.echo(f"user {username}: updated ({'; '.join(changes)}){disabled}")
        if one_time is not None:
            click.echo("one-time password (give it to the user; it must be changed at the first login):")
            click.echo(one_time)


def _handed(report: object, to: str) -> str:
    handed, kept = getattr(report, "handed", []), getattr(report, "kept", [])
    text = f"; {len(handed)} open item(s) handed to {to}" if handed else ""
    if kept:
        text += f"; {len(kept)} open item(s) kept (another estate): " + ", ".join(a.number for a in kept)
    return text


@user.command("disable")
@click.argument("username")
@click.option("--hand-over-to", "other", default=None,
              help="Give the user's open assigned items to this user (else supervisors see them as 责任人已停用).")
@URL_OPTION
def user_disable(username: str, other: str | None, url: str | None) -> None:
    """Disable USERNAME: no more logins, every session ends at once, open items go to OTHER if given."""
    from engine.org import staff
    from engine.runtime.handover import open_assignments
    from engine.store.db import transaction

    with opened(url, f"disable the user in {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        row = _find_user(session, username)
        successor = _find_user(session, other) if other is not None else None
        was_active, ended = row.active, _open_sessions(session, row.id)
        report = staff.disable(session, CLI_ACTOR, row.id, hand_over_to=successor.id if successor else None)
        unattended = len(open_assignments(session, row.id))
    text = f"user {username}: {'disabled' if was_active else 'already disabled'}, {ended} session(s) ended"
    text += _handed(report, other or "")
    if unattended:
        text += f"; {unattended} open item(s) left with the user, shown to supervisors"
    click.echo(text)


@user.command("enable")
@click.argument("username")
@URL_OPTION
def user_enable(username: str, url: str | None) -> None:
    """Let USERNAME log in again (with the password they had)."""
    from engine.org import staff
    from engine.store.db import transaction

    with opened(url, f"enable the user in {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        row = _find_user(session, username)
        was_active = row.active
        staff.enable(session, CLI_ACTOR, row.id)
    click.echo(f"user {username}: {'already enabled' if was_active else 'enabled'}")


@user.command("leave")
@click.argument("username")
@click.option("--stand-in", "other", required=True, help="Who covers: gets the open items and the notifications.")
@URL_OPTION
def user_leave(username: str, other: str, url: str | None) -> None:
    """Mark USERNAME on leave: open items go to the stand-in, and so do notifications until `user back`."""
    from engine.org import staff
    from engine.store.db import transaction

    with opened(url, f"mark the leave in {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        row, stand_in = _find_user(session, username), _find_user(session, other)
        report = staff.start_leave(session, CLI_ACTOR, row.id, stand_in_id=stand_in.id)
    click.echo(f"user {username}: on leave, stand-in {other}{_handed(report, other)}")


@user.command("back")
@click.argument("username")
@URL_OPTION
def user_back(username: str, url: str | None) -> None:
    """USERNAME is back from leave: notifications reach them again (handed-over items stay with the stand-in)."""
    from engine.org import staff
    from engine.store.db import transaction

    with opened(url, f"end the leave in {shown_url(url)}") as factory, transaction(factory) as session, refusals():
        row = _find_user(session, username)
        was_away = row.on_leave
        staff.end_leave(session, CLI_ACTOR, row.id)
    click.echo(f"user {username}: {'back from leave' if was_away else 'was not on leave'}")


@user.command("reset-password")
@click.argument("username")
@URL_OPTION
def user_reset_password(username: str, url: str | None) -> None:
    """A one-time password for USERNAME (the last line printed); it must be changed at the next login,
    and every session of the user ends at once."""
    from engine.org import staff
    from engine.store.db import transaction

    with opened(url, f"reset the password in {shown_url(url)}") as factory, transaction(factory) as session, \
            refusals():
        row = _find_user(session, username)
        ended = _open_sessions(session, row.id)
        password = staff.reset_password(session, CLI_ACTOR, row.id)
    click.echo(f"user {username}: password reset, {ended} session(s) ended; one-time password "
               "(give it to the user; it must be changed at the next login):")
    click.echo(password)


@user.command("password")
@click.argument("username")
@_PASSWORD_STDIN
@URL_OPTION
def user_password(username: str, password_stdin: bool, url: str | None) -> None:
    """Set a new password for USERNAME (from standard input); every session of the user ends at once."""
    from engine.org import staff
    from engine.store.db import transaction

    if not password_stdin:
        raise click.UsageError("give the new password on standard input with --password-stdin")
    password = _read_password(username)
    with opened(url, f"set the password in {shown_url(url)}") as factory, transaction(factory) as session, \
            refusals():
        row = _find_user(session, username)
        ended = staff.set_password(session, CLI_ACTOR, row.id, password)
    click.echo(f"user {username}: password changed, {ended} session(s) ended")
