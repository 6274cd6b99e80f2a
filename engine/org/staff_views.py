"""Reading staff for pages and pickers: who works where, the admin pages' records, unattended items.

    staff_of(session, estate_id, roles=None) -> list[StaffMember]   active staff of an estate (pickers)
    list_users(session, actor, estate=None) -> list[UserSummary]    the users the actor may manage
    user_record(session, actor, user_id) -> UserRecord              one user, with roles and history
    managed_user(session, actor, user_id) -> User                   the user, if the actor may manage them
    unattended(session, actor) -> list[Unattended]                  open items whose assignee is disabled

engine/org/staff.py re-exports these; it holds the writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.errors import ItemNotFound
from engine.runtime.handover import is_open
from engine.store.models import AuditLog, Item, ItemAssignee, User, UserEstate, UserRole

__all__ = [
    "AuditEntry", "StaffMember", "Unattended", "UserRecord", "UserSummary", "list_users", "managed_user", "staff_of",
    "unattended", "user_record",
]

SUPERVISING_ROLES = frozenset({"cs_supervisor", "cs_manager", "project_manager", "admin"})
"""Who is shown the items left with a disabled person (责任人已停用), in the estates they hold these roles."""


@dataclass(frozen=True, slots=True)
class StaffMember:
    """A member of staff as a picker shows them: the display name, never the login id on the page."""

    user_id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    """The roles held in the estate asked about."""


@dataclass(frozen=True, slots=True)
class UserSummary:
    """One line of the admin page's user list."""

    user_id: int
    username: str
    display_name: str
    active: bool
    on_leave: bool
    must_change_password: bool
    roles: dict[str, tuple[str, ...]]
    """Estate id → the roles held there."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row, for a page's history."""

    at: datetime
    actor_name: str
    target: str
    action: str
    estate_id: str | None
    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One user for the admin page: contact, state, roles per estate, stand-in, history (newest first)."""

    user_id: int
    username: str
    display_name: str
    phone: str | None
    email: str | None
    active: bool
    must_change_password: bool
    on_leave: bool
    stand_in: StaffMember | None
    roles: dict[str, tuple[str, ...]]
    history: tuple[AuditEntry, ...]


@dataclass(frozen=True, slots=True)
class Unattended:
    """An open item whose assignee is disabled: a supervisor should hand it to someone."""

    item_id: int
    number: str
    estate_id: str
    workflow_id: str
    state: str
    field: str
    user_id: int
    display_name: str


def staff_of(session: Session, estate_id: str, roles: Iterable[str] | None = None) -> list[StaffMember]:
    """Active users working in the estate (holding one of `roles` there, if given), by display name."""
    wanted = None if roles is None else sorted(set(roles))
    held: dict[int, list[str]] = {}
    for user_id, role in session.execute(select(UserRole.user_id, UserRole.role)
                                         .where(UserRole.estate_id == estate_id).order_by(UserRole.role)):
        held.setdefault(user_id, []).append(role)
    stmt = (select(User).join(UserEstate, UserEstate.user_id == User.id)
            .where(UserEstate.estate_id == estate_id, User.active.is_(True)).order_by(User.display_name, User.id))
    members = []
    for user in session.scalars(stmt):
        mine = held.get(user.id, [])
        if wanted is None or set(mine) & set(wanted):
            members.append(StaffMember(user.id, user.username, user.display_name, tuple(mine)))
    return members


def _roles_of(session: Session, user_ids: list[int]) -> dict[int, dict[str, tuple[str, ...]]]:
    found: dict[int, dict[str, list[str]]] = {}
    for user_id, estate_id in session.execute(select(UserEstate.user_id, UserEstate.estate_id)
                                              .where(UserEstate.user_id.in_(user_ids))):
        found.setdefault(user_id, {}).setdefault(estate_id, [])
    for user_id, estate_id, role in session.execute(
            select(UserRole.user_id, UserRole.estate_id, UserRole.role).where(UserRole.user_id.in_(user_ids))
            .order_by(UserRole.role)):
        found.setdefault(user_id, {}).setdefault(estate_id, []).append(role)
    return {u: {e: tuple(r) for e, r in sorted(per.items())} for u, per in found.items()}


def _managed_estates(actor: Actor) -> list[str] | None:
    """The estates whose staff the actor manages (None: every one, the system)."""
    if actor.is_system:
        return None
    return sorted(e for e in actor.estates or () if permissions.may_manage_users(actor, e))


def _sees_homeless(actor: Actor) -> bool:
    """Whether the actor sees users who work nowhere yet (just added, or every role taken away)."""
    return actor.is_system or permissions.may_add_estates(actor) or bool(_managed_estates(actor))


def managed_user(session: Session, actor: Actor, user_id: int) -> User:
    """The user, if the actor manages an estate they work in (or they work nowhere and the actor adds staff).

    Raises ItemNotFound otherwise, as for a missing user.
    """
    user = session.get(User, user_id)
    if user is None:
        raise ItemNotFound("没有这个用户", user_id=user_id)
    if actor.is_system:
        return user
    theirs = set(session.scalars(select(UserEstate.estate_id).where(UserEstate.user_id == user_id)))
    managed = set(_managed_estates(actor) or ())
    if theirs & managed or (not theirs and _sees_homeless(actor)):
        return user
    raise ItemNotFound("没有这个用户", user_id=user_id)


def list_users(session: Session, actor: Actor, estate: str | None = None) -> list[UserSummary]:
    """The users the actor manages (of `estate`, if given), by display name; disabled ones included."""
    managed = _managed_estates(actor)
    scope = managed if estate is None else [e for e in (managed or [estate]) if e == estate]
    in_scope = select(UserEstate.user_id)
    if scope is not None:
        in_scope = in_scope.where(UserEstate.estate_id.in_(scope))
    terms = [User.id.in_(in_scope)]
    if estate is None and _sees_homeless(actor):
        terms.append(~User.id.in_(select(UserEstate.user_id)))
    users = list(session.scalars(select(User).where(or_(*terms)).order_by(User.display_name, User.id)))
    roles = _roles_of(session, [u.id for u in users])
    return [UserSummary(u.id, u.username, u.display_name, u.active, u.on_leave, u.must_change_password,
                        roles.get(u.id, {})) for u in users]


def user_record(session: Session, actor: Actor, user_id: int, *, history: int = 50) -> UserRecord:
    """One user the actor manages, with roles per estate and the newest `history` audit rows about them."""
    user = managed_user(session, actor, user_id)
    stand_in = session.get(User, user.stand_in_id) if user.stand_in_id is not None else None
    rows = session.scalars(select(AuditLog).where(AuditLog.target.in_(("user", "role")),
                                                  AuditLog.target_id == str(user.id))
                           .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(history))
    entries = tuple(AuditEntry(r.at, r.actor_name, r.target, r.action, r.estate_id, dict(r.changes)) for r in rows)
    return UserRecord(user.id, user.username, user.display_name, user.phone, user.email, user.active,
                      user.must_change_password, user.on_leave,
                      StaffMember(stand_in.id, stand_in.username, stand_in.display_name, ()) if stand_in else None,
                      _roles_of(session, [user.id]).get(user.id, {}), entries)


def unattended(session: Session, actor: Actor) -> list[Unattended]:
    """Open items whose assigned person is disabled, in the estates where the actor supervises."""
    estates = None if actor.is_system else sorted(
        e for e in actor.estates or () if actor.roles_in(e) & SUPERVISING_ROLES)
    if estates is not None and not estates:
        return []
    stmt = (select(Item, ItemAssignee.field, User.id, User.display_name)
            .join(ItemAssignee, ItemAssignee.item_id == Item.id).join(User, User.id == ItemAssignee.user_id)
            .where(User.active.is_(False)).order_by(Item.id, ItemAssignee.field))
    if estates is not None:
        stmt = stmt.where(Item.estate_id.in_(estates))
    return [Unattended(item.id, item.number, item.estate_id, item.workflow_id, item.state, name, uid, display)
            for item, name, uid, display in session.execute(stmt) if is_open(session, item)]
