"""Importing staff from a spreadsheet: the plan (preview) and its writing, for engine/org/imports.py.

    plan_users(session, actor, rows, filename, catalogue=None) -> ImportPlan
    apply_users(session, actor, plan, catalogue=None) -> {username: one-time password}

Columns: username, name, estate, roles (separated by ;), phone, email (the last two optional).
One row per user and estate: a user working in two estates has two rows, and the row's roles
become the user's roles in that estate. Empty phone or e-mail cells keep what is stored. A new
user gets a one-time password (returned once by `apply_users`, to hand over) and must change
it at the first login.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.org import staff, values
from engine.org.plans import ImportPlan, PlannedRow, Problems
from engine.org.roles import role_catalogue
from engine.org.tables import Row
from engine.store.models import Estate, User, UserRole

__all__ = ["USER_COLUMNS", "apply_users", "plan_users"]

USER_COLUMNS = ("username", "name", "estate", "roles", "phone", "email")
_REQUIRED = USER_COLUMNS[:4]
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


@dataclass(slots=True)
class _UserRow:
    number: int
    username: str
    name: str
    estate: str
    roles: frozenset[str]
    phone: str | None
    email: str | None


def _estate_problem(session: Session, actor: Actor, estate_id: str) -> str | None:
    estate = session.get(Estate, estate_id)
    if estate is None or not permissions.works_in(actor, estate_id):
        return f"没有这个小区：{estate_id}"
    if not permissions.may_manage_users(actor, estate_id):
        return f"你不能调整{estate.name}的员工（只有系统管理员或客服部经理可以）"
    return None


def _roles(raw: str, catalogue: Mapping[str, str]) -> frozenset[str]:
    wanted = frozenset(r.strip() for r in re.split(r"[;；,，、]", raw) if r.strip())
    unknown = sorted(wanted - set(catalogue))
    if unknown:
        choices = "、".join(f"{label}（{role}）" for role, label in catalogue.items())
        raise ValueError(f"没有这些角色：{'、'.join(unknown)}。可选的角色：{choices}")
    return wanted


def _parse(session: Session, actor: Actor, rows: Iterable[Row], problems: Problems,
           catalogue: Mapping[str, str]) -> list[_UserRow]:
    parsed: list[_UserRow] = []
    seen: dict[tuple[str, str], int] = {}
    first: dict[str, _UserRow] = {}
    estate_problems: dict[str, str | None] = {}
    for row in rows:
        n = row.number
        username = row.get("username", "")
        if not _USERNAME.match(username):
            problems.add(n, "username", "用户名只能用字母、数字和 . _ @ -，最多 100 个字符")
        name = problems.checked(n, "name", values.text, row.get("name"), "姓名", 200)
        estate_id = row.get("estate", "")
        if not estate_id:
            problems.add(n, "estate", "请填写小区编号")
        else:
            if estate_id not in estate_problems:
                estate_problems[estate_id] = _estate_problem(session, actor, estate_id)
            if estate_problems[estate_id] is not None:
                problems.add(n, "estate", str(estate_problems[estate_id]))
        roles = problems.checked(n, "roles", _roles, row.get("roles", ""), catalogue)
        phone = problems.checked(n, "phone", values.optional_phone, row.get("phone"))
        email = problems.checked(n, "email", values.email, row.get("email"))
        earlier = seen.setdefault((username, estate_id), n)
        if earlier != n:
            problems.add(n, "estate", f"用户 {username} 在第 {earlier} 行已有这个小区")
        if name is None or roles is None or not estate_id or not _USERNAME.match(username):
            continue
        parsed_row = _UserRow(n, username, name, estate_id, roles, phone, email)
        before = first.setdefault(username, parsed_row)
        if before.name != name:
            problems.add(n, "name", f"与第 {before.number} 行的姓名不同（{before.name}）")
        parsed.append(parsed_row)
    return parsed


def _grant_problem(actor: Actor, held: frozenset[str], row: _UserRow, catalogue: Mapping[str, str]) -> str | None:
    refused = sorted((row.roles ^ held) - permissions.grantable_roles(actor, row.estate, frozenset(catalogue) | held))
    if refused:
        return "只有系统管理员可以授予或取消这些岗位：" + "、".join(catalogue.get(r, r) for r in refused)
    return None


def plan_users(session: Session, actor: Actor, rows: Iterable[Row], filename: str, *,
               catalogue: Mapping[str, str] | None = None) -> ImportPlan:
    """What importing a users file would do, with every problem; writes nothing."""
    known = dict(catalogue) if catalogue is not None else role_catalogue(session)
    source = tuple(rows)
    problems = Problems(filename)
    present = set().union(*(r.keys() for r in source)) if source else set()
    if source and problems.missing_columns(present, _REQUIRED):
        return ImportPlan("users", filename, (), tuple(problems.found), source)
    if not source:
        problems.add(1, "(文件)", "文件中没有数据行")
    planned: list[PlannedRow] = []
    for row in _parse(session, actor, source, problems, known):
        user = session.scalar(select(User).where(User.username == row.username))
        held = frozenset(session.scalars(select(UserRole.role).where(
            UserRole.user_id == user.id, UserRole.estate_id == row.estate))) if user is not None else frozenset()
        if (why := _grant_problem(actor, held, row, known)) is not None:
            problems.add(row.number, "roles", why)
            continue
        changes: dict[str, list[Any]] = {}
        if user is None:
            action = "add"
            changes = {"name": [None, row.name], "roles": [[], sorted(row.roles)]}
        else:
            if user.display_name != row.name:
                changes["name"] = [user.display_name, row.name]
            if row.phone is not None and user.phone != row.phone:
                changes["phone"] = [user.phone, row.phone]
            if row.email is not None and user.email != row.email:
                changes["email"] = [user.email, row.email]
            if held != row.roles:
                changes["roles"] = [sorted(held), sorted(row.roles)]
            action = "update" if changes else "unchanged"
        planned.append(PlannedRow(row.number, row.username, action, changes))
    return ImportPlan("users", filename, tuple(planned) if not problems.found else (), tuple(problems.found), source)


def apply_users(session: Session, actor: Actor, plan: ImportPlan, *,
                catalogue: Mapping[str, str] | None = None) -> dict[str, str]:
    """Write a checked users plan; returns each new user's one-time password."""
    known = dict(catalogue) if catalogue is not None else role_catalogue(session)
    problems = Problems(plan.filename)
    passwords: dict[str, str] = {}
    for row in _parse(session, actor, plan.source, problems, known):
        user = session.scalar(select(User).where(User.username == row.username))
        if user is None:
            user, one_time = staff.add_user(session, actor, row.username, name=row.name, phone=row.phone,
                                            email=row.email)
            if one_time is not None:
                passwords[row.username] = one_time
        else:
            staff.update_user(session, actor, user.id, name=row.name, phone=row.phone, email=row.email)
        staff.set_roles(session, actor, user.id, row.estate, row.roles, catalogue=known)
    return passwords
