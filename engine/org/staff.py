"""Staff: accounts, passwords, roles per estate, disabling, leave with a stand-in.

    password_problem(username, password) -> str | None        why a password will not do (Chinese)
    add_user(session, actor, username, *, name, phone=, email=, password=) -> (User, one-time password | None)
    update_user(session, actor, user_id, *, name=, phone=, email=)
    set_roles(session, actor, user_id, estate_id, roles)      the user's roles in that estate, replaced
    change_password(session, user_id, old, new)               the user's own change (我的账户)
    reset_password(session, actor, user_id) -> str            a one-time password, changed at next login
    disable / enable(session, actor, user_id, *, hand_over_to=None)
    start_leave(session, actor, user_id, *, stand_in_id) / end_leave(session, actor, user_id)
    staff_of(session, estate_id, roles=None) -> list[StaffMember]   pickers: who works in an estate
    unattended(session, actor) -> list[Assignment]             open items whose assignee is disabled
    user_record / list_users (engine/org/staff_views.py)       the admin pages' read side

Every change runs in the caller's transaction with an audit row (engine/org/audit.py); who
may do what is asked of engine/access/permissions.py (may_manage_users, grantable_roles). A
user the actor may not manage is answered like a missing one. Passwords are hashed with
werkzeug.security, as the web login checks them, and never recorded anywhere in clear.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from engine.access import permissions
from engine.access.actor import Actor
from engine.access.sessions import digest, end_user_sessions
from engine.clock import Clock, SystemClock
from engine.errors import InvalidFields, ItemNotFound, NotPermitted
from engine.org import audit, values
from engine.org.roles import role_catalogue
from engine.org.staff_views import (
    StaffMember,
    UserRecord,
    UserSummary,
    list_users,
    managed_user,
    staff_of,
    unattended,
    user_record,
)
from engine.runtime import handover
from engine.store.models import Estate, LoginSession, User, UserEstate, UserRole

__all__ = [
    "MIN_PASSWORD", "StaffMember", "UserRecord", "UserSummary", "add_user", "change_password", "disable", "enable",
    "end_leave", "list_users", "one_time_password", "password_problem", "reset_password", "role_catalogue",
    "set_password", "set_roles", "staff_of", "start_leave", "unattended", "update_user", "user_record",
]

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
# Passwords every guessing list starts with (and the Chinese favourites); refusing them costs nothing.
_COMMON = frozenset({
    "12345678", "123456789", "1234567890", "87654321", "11111111", "00000000", "88888888", "66666666",
    "password", "password1", "passw0rd", "qwertyui", "qwerty123", "abc12345", "abcd1234", "a1234567",
    "1qaz2wsx", "iloveyou", "woaini1314", "11223344", "12341234", "asdfghjk", "zxcvbnm1", "admin123",
    "admin1234", "aa123456", "qq123456", "5201314520",
})
# No 0/O, 1/l/I: a one-time password is read aloud or copied from a slip of paper.
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CLOCK = SystemClock()


def password_problem(username: str, password: str) -> str | None:
    """Why `password` will not do for `username`, in Chinese, or None when it will."""
    if len(password) < MIN_PASSWORD:
        return f"密码至少要 {MIN_PASSWORD} 个字符"
    if len(password) > MAX_PASSWORD:
        return f"密码最多 {MAX_PASSWORD} 个字符"
    if re.search(r"[\x00-\x1f\x7f]", password):
        return "密码不能含有不可见的控制字符"
    folded, name = password.casefold(), username.casefold()
    if folded == name:
        return "密码不能与用户名相同"
    if len(name) >= 4 and name in folded:
        return "密码不能包含用户名"
    if len(set(password)) == 1:
        return "密码不能全是同一个字符"
    if folded in _COMMON:
        return "这个密码太常见，容易被猜到，请换一个"
    return None


def one_time_password() -> str:
    """A random password for an admin to hand over (12 characters, about 70 bits)."""
    while True:
        candidate = "".join(secrets.choice(_OTP_ALPHABET) for _ in range(12))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


def _may_add_staff(actor: Actor) -> bool:
    if actor.is_system or permissions.may_add_estates(actor):
        return True
    return any(permissions.may_manage_users(actor, e) for e in actor.estates or ())


def _end_sessions(session: Session, user_id: int, now: datetime, keep_token: str | None = None) -> int:
    if keep_token is None:
        return end_user_sessions(session, user_id, now)
    result = session.execute(update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.ended_at.is_(None), LoginSession.id != digest(keep_token))
        .values(ended_at=now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


_TOP_ROLES = frozenset({"admin", "cs_manager", "branch_leader"})


def _person(session: Session, actor: Actor, user_id: int) -> User:
    """The user, if the actor may manage them (ItemNotFound otherwise, as for a missing one).

    A user holding a post the actor may not give (a cs_manager facing an admin or another
    manager) is refused (NotPermitted): resetting their password would hand over their account.
    """
    user = managed_user(session, actor, user_id)
    if actor.is_system:
        return user
    held: dict[str, set[str]] = {}
    for estate_id, role in session.execute(select(UserRole.estate_id, UserRole.role)
                                           .where(UserRole.user_id == user_id)):
        held.setdefault(estate_id, set()).add(role)
    for estate_id, roles in held.items():
        beyond = frozenset(roles) - permissions.grantable_roles(actor, estate_id, frozenset(roles))
        if beyond and (permissions.may_manage_users(actor, estate_id) or beyond & _TOP_ROLES):
            raise NotPermitted("只有系统管理员可以修改管理人员的账号", roles=["admin"])
    return user


def _contact(problems: dict[str, str], phone: str | None, email: str | None) -> tuple[str | None, str | None]:
    clean_phone: str | None = None
    clean_email: str | None = None
    try:
        clean_phone = values.optional_phone(phone)
    except ValueError as error:
        problems["phone"] = str(error)
    try:
        clean_email = values.email(email)
    except ValueError as error:
        problems["email"] = str(error)
    return clean_phone, clean_email


def add_user(session: Session, actor: Actor, username: str, *, name: str, phone: str | None = None,
             email: str | None = None, password: str | None = None, must_change_password: bool | None = None,
             password_hash: str | None = None, clock: Clock | None = None) -> tuple[User, str | None]:
    """Add a member of staff; without `password` a one-time password is made and returned (else None).

    A one-time password must be changed at the first login (`must_change_password`, which
    may also be given). `password_hash`, with `password`, is its hash made beforehand (the demo
    seeds many users with one password; hashing is slow on purpose). The user works nowhere
    until `set_roles`. Raises InvalidFields
    (username taken or malformed, password too weak...), NotPermitted.
    """
    if not _may_add_staff(actor):
        raise NotPermitted("只有系统管理员或客服部经理可以添加员工", roles=["admin", "cs_manager"])
    problems: dict[str, str] = {}
    username = username.strip()
    if not _USERNAME.match(username):
        problems["username"] = "用户名只能用字母、数字和 . _ @ -，最多 100 个字符"
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        problems["username"] = f"用户名 {username} 已被使用"
    try:
        clean_name = values.text(name, "姓名", 200)
    except ValueError as error:
        problems["name"] = str(error)
    clean_phone, clean_email = _contact(problems, phone, email)
    generated = None
    if password is None:
        generated = password = one_time_password()
    elif (why := password_problem(username, password)) is not None:
        problems["password"] = why
    if problems:
        raise InvalidFields(problems, "；".join(problems.values()))
    forced = generated is not None if must_change_password is None else must_change_password
    hashed = password_hash if password_hash is not None and generated is None else generate_password_hash(password)
    row = User(username=username, display_name=clean_name, password_hash=hashed,
               active=True, phone=clean_phone, email=clean_email, must_change_password=forced)
    session.add(row)
    session.flush()
    audit.record(session, actor, target="user", target_id=row.id, action="add", clock=clock,
                 changes={"username": [None, username], "display_name": [None, clean_name],
                          "phone": [None, clean_phone], "email": [None, clean_email]})
    return row, generated


def update_user(session: Session, actor: Actor, user_id: int, *, name: str | None = None, phone: str | None = None,
                email: str | None = None, clock: Clock | None = None) -> User:
    """Change a user's display name, phone or e-mail (None keeps it; '' removes a phone or e-mail).

    Their manager may, and so may the user themselves (我的账户).
    """
    own = actor.user_id is not None and actor.user_id == user_id
    row = session.get(User, user_id) if own else _person(session, actor, user_id)
    if row is None:
        raise ItemNotFound("没有这个用户", user_id=user_id)
    problems: dict[str, str] = {}
    new: dict[str, str | None] = {}
    if name is not None:
        try:
            new["display_name"] = values.text(name, "姓名", 200)
        except ValueError as error:
            problems["name"] = str(error)
    clean_phone, clean_email = _contact(problems, phone, email)
    if phone is not None:
        new["phone"] = clean_phone
    if email is not None:
        new["email"] = clean_email
    if problems:
        raise InvalidFields(problems, "；".join(problems.values()))
    changed = {k: [getattr(row, k), v] for k, v in new.items() if getattr(row, k) != v}
    for key, (_old, value) in changed.items():
        setattr(row, key, value)
    if changed:
        audit.record(session, actor, target="user", target_id=row.id, action="change", changes=changed, clock=clock)
    return row


def _labelled(roles: Iterable[str], catalogue: Mapping[str, str]) -> str:
    return "、".join(f"{catalogue.get(r, r)}（{r}）" for r in roles)


def set_roles(session: Session, actor: Actor, user_id: int, estate_id: str, roles: Iterable[str], *,
              catalogue: Mapping[str, str] | None = None, clock: Clock | None = None) -> frozenset[str]:
    """Make `roles` the user's roles in `estate_id` (replacing those held there); returns them.

    The user works in the estate while holding a role there: no roles removes them from it.
    Only roles `permissions.grantable_roles` lets the actor give (or take) may change.
    `catalogue` (role id → label) defaults to the published one (role_catalogue).
    Raises InvalidFields (unknown roles, listed with the valid ones), NotPermitted, ItemNotFound.
    """
    estate = session.get(Estate, estate_id)
    if estate is None or not permissions.works_in(actor, estate_id):
        raise ItemNotFound("没有这个小区", estate=estate_id)
    if not permissions.may_manage_users(actor, estate_id):
        raise NotPermitted(f"只有系统管理员或客服部经理可以调整{estate.name}的员工岗位", estate=estate_id)
    user = session.get(User, user_id)
    if user is None:
        raise ItemNotFound("没有这个用户", user_id=user_id)
    known = dict(catalogue) if catalogue is not None else role_catalogue(session)
    wanted = frozenset(r.strip() for r in roles if r.strip())
    unknown = sorted(wanted - set(known))
    if unknown:
        raise InvalidFields({"roles": f"没有这些角色：{'、'.join(unknown)}。可选的角色：{_labelled(known, known)}"})
    held = frozenset(session.scalars(select(UserRole.role).where(UserRole.user_id == user_id,
                                                                 UserRole.estate_id == estate_id)))
    grantable = permissions.grantable_roles(actor, estate_id, frozenset(known) | held)
    refused = sorted((wanted ^ held) - grantable)
    if refused:
        raise NotPermitted(f"只有系统管理员可以授予或取消这些岗位：{'、'.join(known.get(r, r) for r in refused)}",
                           roles=["admin"])
    if wanted == held:
        return held
    session.execute(delete(UserRole).where(UserRole.user_id == user_id, UserRole.estate_id == estate_id,
                                           UserRole.role.in_(sorted(held - wanted))))
    session.add_all([UserRole(user_id=user_id, estate_id=estate_id, role=r) for r in sorted(wanted - held)])
    works_there = session.get(UserEstate, (user_id, estate_id)) is not None
    if wanted and not works_there:
        session.add(UserEstate(user_id=user_id, estate_id=estate_id))
    elif not wanted and works_there:
        session.execute(delete(UserEstate).where(UserEstate.user_id == user_id, UserEstate.estate_id == estate_id))
    session.flush()
    audit.record(session, actor, target="role", target_id=user_id, action="change", estate_id=estate_id,
                 changes={"roles": [sorted(held), sorted(wanted)]}, clock=clock)
    return wanted


def change_password(session: Session, user_id: int, old: str, new: str, *, keep_token: str | None = None,
                    clock: Clock | None = None) -> int:
    """The user's own change: `old` must match, `new` must do; other sessions end (`keep_token`: this one stays).

    Clears must_change_password. Returns how many sessions ended. Raises InvalidFields on
    {'old_password' | 'new_password': reason}, ItemNotFound.
    """
    row = session.get(User, user_id)
    if row is None or not row.active:
        raise ItemNotFound("没有这个用户", user_id=user_id)
    if not row.password_hash or not check_password_hash(row.password_hash, old):
        raise InvalidFields({"old_password": "原密码不正确"})
    if old == new:
        raise InvalidFields({"new_password": "新密码不能与原密码相同"})
    if (why := password_problem(row.username, new)) is not None:
        raise InvalidFields({"new_password": why})
    now = (clock or _CLOCK).now()
    row.password_hash = generate_password_hash(new)
    row.must_change_password = False
    ended = _end_sessions(session, user_id, now, keep_token)
    me = Actor(row.id, row.display_name, frozenset(), frozenset(), username=row.username)
    audit.record(session, me, target="user", target_id=row.id, action="password", changes={}, clock=clock)
    return ended


def reset_password(session: Session, actor: Actor, user_id: int, *, clock: Clock | None = None) -> str:
    """A new one-time password for the user (returned once), to be changed at the next login; sessions end."""
    row = _person(session, actor, user_id)
    password = one_time_password()
    row.password_hash = generate_password_hash(password)
    row.must_change_password = True
    _end_sessions(session, row.id, (clock or _CLOCK).now())
    audit.record(session, actor, target="user", target_id=row.id, action="reset_password", changes={}, clock=clock)
    return password


def set_password(session: Session, actor: Actor, user_id: int, password: str, *, clock: Clock | None = None) -> int:
    """Set a password chosen by whoever runs the command line for the user; every session ends. Returns
    how many ended. Raises InvalidFields {'password': reason}."""
    row = _person(session, actor, user_id)
    if (why := password_problem(row.username, password)) is not None:
        raise InvalidFields({"password": why})
    row.password_hash = generate_password_hash(password)
    row.must_change_password = False
    ended = _end_sessions(session, row.id, (clock or _CLOCK).now())
    audit.record(session, actor, target="user", target_id=row.id, action="password", changes={}, clock=clock)
    return ended


def _successor(session: Session, user: User, other_id: int | None, what: str) -> User | None:
    if other_id is None:
        return None
    other = session.get(User, other_id)
    if other is None:
        raise ItemNotFound("没有这个用户", user_id=other_id)
    if other.id == user.id:
        raise InvalidFields({what: "不能转交给本人"})
    if not other.active:
        raise InvalidFields({what: f"{other.display_name}的账号已停用"})
    return other


def disable(session: Session, actor: Actor, user_id: int, *, hand_over_to: int | None = None,
            clock: Clock | None = None) -> handover.HandoverReport:
    """No more logins for the user; their sessions end. Their open assigned items go to `hand_over_to`,
    else stay and are listed to supervisors (`unattended`). Returns what was handed over and kept."""
    row = _person(session, actor, user_id)
    if row.id == actor.user_id:
        raise NotPermitted("不能停用自己的账号")
    successor = _successor(session, row, hand_over_to, "hand_over_to")
    now = (clock or _CLOCK).now()
    changed: dict[str, list[object]] = {"active": [row.active, False]} if row.active else {}
    row.active = False
    _end_sessions(session, row.id, now)
    report = handover.HandoverReport()
    if successor is not None:
        report = handover.hand_over(session, actor, row.id, successor.id, now=now,
                                    reason=f"{row.display_name}已停用，事项转交{successor.display_name}")
        changed["hand_over_to"] = [None, successor.username]
    if changed:
        audit.record(session, actor, target="user", target_id=row.id, action="disable", changes=changed, clock=clock)
    return report


def enable(session: Session, actor: Actor, user_id: int, *, clock: Clock | None = None) -> User:
    """Let a disabled user log in again (with the password they had)."""
    row = _person(session, actor, user_id)
    if not row.active:
        row.active = True
        audit.record(session, actor, target="user", target_id=row.id, action="enable",
                     changes={"active": [False, True]}, clock=clock)
    return row


def start_leave(session: Session, actor: Actor, user_id: int, *, stand_in_id: int,
                clock: Clock | None = None) -> handover.HandoverReport:
    """Mark the user on leave: their open items go to the stand-in, and so do their notifications until back."""
    row = _person(session, actor, user_id)
    stand_in = _successor(session, row, stand_in_id, "stand_in")
    assert stand_in is not None
    if stand_in.on_leave:
        raise InvalidFields({"stand_in": f"{stand_in.display_name}也在休假"})
    now = (clock or _CLOCK).now()
    changes = {"on_leave": [row.on_leave, True], "stand_in": [None, stand_in.username]}
    row.on_leave, row.stand_in_id = True, stand_in.id
    report = handover.hand_over(session, actor, row.id, stand_in.id, now=now,
                                reason=f"{row.display_name}休假，由{stand_in.display_name}代理")
    audit.record(session, actor, target="user", target_id=row.id, action="leave", changes=changes, clock=clock)
    return report


def end_leave(session: Session, actor: Actor, user_id: int, *, clock: Clock | None = None) -> User:
    """The user is back: notifications reach them again (items handed over stay with the stand-in)."""
    row = _person(session, actor, user_id)
    if row.on_leave or row.stand_in_id is not None:
        stand_in = session.get(User, row.stand_in_id) if row.stand_in_id is not None else None
        changes = {"on_leave": [row.on_leave, False], "stand_in": [stand_in.username if stand_in else None, None]}
        row.on_leave, row.stand_in_id = False, None
        audit.record(session, actor, target="user", target_id=row.id, action="back", changes=changes, clock=clock)
    return row
