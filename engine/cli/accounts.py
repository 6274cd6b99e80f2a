"""The first real accounts, for scripted set-up: `estateflow estate ...` and `estateflow user ...`.

    estate add ID --name NAME [--timezone TZ]          add an estate, or update its name and zone
    user add USERNAME --name NAME --estate ESTATE --role ROLE... [--password-stdin]
                                                       add a user, or give one more estate and roles
    user disable USERNAME                              no more logins; every session ends at once
    user password USERNAME --password-stdin            a new password; every session ends at once

Passwords come from standard input only (never an argument: it would show in `ps` and the
shell history), are hashed with werkzeug.security as the web login checks them, and are
never printed or logged. For now a user's roles apply in every estate the user works in
(user_roles has no estate column); the organisation issue makes them per estate.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.common import URL_OPTION, opened, shown_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.store.models import User

__all__ = ["estate", "user"]

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_ESTATE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True,
    help="Read the password from standard input (its first line; typed twice, hidden, on a terminal).")


def _refuse(message: str) -> click.ClickException:
    """A one-line refusal (exit 1, no traceback); raised inside a transaction, it rolls it back."""
    return click.ClickException(message)


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
    from engine.clock import DEFAULT_TIMEZONE
    from engine.store.db import transaction
    from engine.store.models import Estate

    if not _ESTATE_ID.match(estate_id):
        raise _refuse(f"'{estate_id}' is not a valid estate id: lowercase letters, digits, _ and -, at most 64")
    name = _text(name, "the name", 200)
    zone = _zone(zone) if zone is not None else None
    with opened(url, f"add the estate to {shown_url(url)}") as factory, transaction(factory) as session:
        row = session.get(Estate, estate_id)
        if row is None:
            row = Estate(id=estate_id, name=name, timezone=zone or DEFAULT_TIMEZONE)
            session.add(row)
            click.echo(f"estate {estate_id}: added ({row.name}, {row.timezone})")
            return
        changes = []
        if row.name != name:
            changes.append(f"name {row.name} -> {name}")
            row.name = name
        if zone is not None and row.timezone != zone:
            changes.append(f"time zone {row.timezone} -> {zone}")
            row.timezone = zone
        click.echo(f"estate {estate_id}: updated ({'; '.join(changes)})" if changes else
                   f"estate {estate_id}: unchanged ({row.name}, {row.timezone})")


# -- users ------------------------------------------------------------------------------------


@click.group()
def user() -> None:
    """Staff accounts: add, disable, set a password."""


def _read_password(username: str) -> str:
    """The password from standard input, checked: at least 8 characters and not the username."""
    password: str
    if sys.stdin.isatty():
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))
    else:
        password = sys.stdin.readline(MAX_PASSWORD + 2).rstrip("\r\n")
    if not password:
        raise _refuse("no password on standard input")
    if len(password) < MIN_PASSWORD or len(password) > MAX_PASSWORD:
        raise _refuse(f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")
    if password.casefold() == username.casefold():
        raise _refuse("the password must not be the username")
    return password


def _hash(password: str) -> str:
    from werkzeug.security import generate_password_hash  # what the web login checks against

    return generate_password_hash(password)


def _role_catalogue(session: Session, workflows_dir: Path) -> tuple[Mapping[str, str], str]:
    """The roles a user may hold, and where they come from: the published definitions' catalogue
    (what the running site checks against), else roles.yaml when nothing is published yet."""
    from sqlalchemy import select

    from engine.errors import DefinitionError
    from engine.language.loader import ROLES_FILE, load_roles
    from engine.store.models import WorkflowVersion

    rows = session.execute(select(WorkflowVersion.workflow_id, WorkflowVersion.estate_id, WorkflowVersion.roles)
                           .order_by(WorkflowVersion.id.desc()))
    latest: dict[tuple[str, str], Mapping[str, str]] = {}
    for workflow_id, estate_id, roles in rows:
        latest.setdefault((workflow_id, estate_id), roles)
    if latest:
        return {role: label for roles in latest.values() for role, label in roles.items()}, \
            "the published role catalogue (estateflow publish)"
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


def _end_sessions(session: Session, user_id: int) -> int:
    from engine.access.sessions import end_user_sessions
    from engine.clock import SystemClock

    return end_user_sessions(session, user_id, SystemClock().now())


@user.command("add")
@click.argument("username")
@click.option("--name", required=True, help="The name staff see, e.g. 张敏.")
@click.option("--estate", "estate_id", required=True, help="An estate the user works in (estateflow estate add).")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role id of the role catalogue; repeat for several. For now roles apply in every estate "
                   "the user works in (per-estate roles come with the organisation pages).")
@_PASSWORD_STDIN
@click.option("--workflows", "workflows_dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="ESTATEFLOW_WORKFLOWS", default=Path("workflows"), show_default=True,
              help="Where roles.yaml is read when nothing is published yet.")
@URL_OPTION
def user_add(username: str, name: str, estate_id: str, roles: tuple[str, ...], password_stdin: bool,
             workflows_dir: Path, url: str | None) -> None:
    """Add USERNAME, working in ESTATE with the given roles. Run again for the same user to add another
    estate and more roles (and a new password, with --password-stdin; that ends the user's sessions).
    A new user needs --password-stdin: at least 8 characters, not the username."""
    from sqlalchemy import select

    from engine.store.db import transaction
    from engine.store.models import Estate, User, UserEstate, UserRole

    if not _USERNAME.match(username):
        raise _refuse(f"'{username}' is not a valid username: letters, digits, . _ @ and -, at most 100")
    name = _text(name, "the name", 200)
    password = _read_password(username) if password_stdin else None
    with opened(url, f"add the user to {shown_url(url)}") as factory, transaction(factory) as session:
        if session.get(Estate, estate_id) is None:
            raise _refuse(f"no estate '{estate_id}': add it first with estateflow estate add {estate_id} --name NAME")
        _check_roles(roles, *_role_catalogue(session, workflows_dir))
        row = session.scalar(select(User).where(User.username == username))
        created, changes = row is None, list[str]()
        if row is None:
            if password is None:
                raise _refuse("a new user needs a password: give it on standard input with --password-stdin")
            row = User(username=username, display_name=name, password_hash=_hash(password), active=True)
            session.add(row)
            session.flush()
        else:
            if row.display_name != name:
                row.display_name = name
                changes.append("name changed")
            if password is not None:
                row.password_hash = _hash(password)
                changes.append(f"password changed, {_end_sessions(session, row.id)} session(s) ended")
        held_estates = set(session.scalars(select(UserEstate.estate_id).where(UserEstate.user_id == row.id)))
        if estate_id not in held_estates:
            session.add(UserEstate(user_id=row.id, estate_id=estate_id))
            changes.append(f"estate {estate_id} added")
        held_roles = set(session.scalars(select(UserRole.role).where(UserRole.user_id == row.id)))
        for role in dict.fromkeys(roles):
            if role not in held_roles:
                session.add(UserRole(user_id=row.id, role=role))
                changes.append(f"role {role} added")
        disabled = "" if row.active else " (the user is disabled)"
        if not changes:
            click.echo(f"user {username}: unchanged{disabled}")
        elif created:
            click.echo(f"user {username}: added (estate {estate_id}; roles {', '.join(dict.fromkeys(roles))})")
        else:
            click.echo(f"user {username}: updated ({'; '.join(changes)}){disabled}")


@user.command("disable")
@click.argument("username")
@URL_OPTION
def user_disable(username: str, url: str | None) -> None:
    """Disable USERNAME: no more logins, and every session of the user ends at once."""
    from engine.store.db import transaction

    with opened(url, f"disable the user in {shown_url(url)}") as factory, transaction(factory) as session:
        row = _find_user(session, username)
        was_active, row.active = row.active, False
        ended = _end_sessions(session, row.id)
    click.echo(f"user {username}: {'disabled' if was_active else 'already disabled'}, {ended} session(s) ended")


@user.command("password")
@click.argument("username")
@_PASSWORD_STDIN
@URL_OPTION
def user_password(username: str, password_stdin: bool, url: str | None) -> None:
    """Set a new password for USERNAME (from standard input); every session of the user ends at once."""
    from engine.store.db import transaction

    if not password_stdin:
        raise click.UsageError("give the new password on standard input with --password-stdin")
    password = _read_password(username)
    with opened(url, f"set the password in {shown_url(url)}") as factory, transaction(factory) as session:
        row = _find_user(session, username)
        row.password_hash = _hash(password)
        ended = _end_sessions(session, row.id)
    click.echo(f"user {username}: password changed, {ended} session(s) ended")
