"""Semantic checks about people: reserved names, `user` fields, who is told, and who sees (`access:`).

    reserved_names, user_fields, notify_targets, access_block   rules, run by engine/language/checks.py
    named_roles(document) / default_see(document, personal)     the roles a workflow names; `access.see`'s default
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.errors import Path, Problem
from engine.language.check_context import Context, listed, role_lists, strings
from engine.language.definition import ADMIN_ROLE, RESERVED_NAMES
from engine.language.schema import suggest
from engine.language.source import SourceMap

__all__ = ["access_block", "default_see", "named_roles", "notify_targets", "reserved_names", "user_fields"]


def reserved_names(ctx: Context) -> Iterator[Problem]:
    """No field is called `me` or `my_roles`: expressions give those names the acting user."""
    for name in ctx.fields:
        if name in RESERVED_NAMES:
            message = (f"'{name}' is a reserved name (in expressions it is the acting user"
                       f"{'' if name == 'me' else chr(39) + 's roles'}); call the field otherwise")
            yield ctx.smap.problem(("fields", name), message, key=True, code="reserved_name")


def user_fields(ctx: Context) -> Iterator[Problem]:
    """`roles` and `route` belong to `user` fields; a route names one the routing files define."""
    for name, field in ctx.fields.items():
        for key in ("roles", "route"):
            if key in field and field.get("type") not in (None, "user"):
                yield ctx.smap.problem(("fields", name, key), f"only a user field has '{key}'", key=True,
                                       code="user_field")
        route = field.get("route")
        if isinstance(route, str) and ctx.routes is not None and route not in ctx.routes:
            known = ", ".join(sorted(ctx.routes)) or "none"
            message = (f"unknown route '{route}'{suggest(route, ctx.routes)}; the routes of "
                       f"estates/*/_routing.yaml are: {known}")
            yield ctx.smap.problem(("fields", name, "route"), message, code="unknown_route")


def notify_targets(ctx: Context) -> Iterator[Problem]:
    """A notification goes to roles, to the person a `user` field names, or both."""
    for index, transition in ctx.transitions():
        for a, action in enumerate(listed(transition.get("actions"))):
            notify = action.get("notify") if isinstance(action, dict) else None
            if not isinstance(notify, dict):
                continue
            path: Path = ("transitions", index, "actions", a, "notify")
            user = notify.get("user")
            if "roles" not in notify and "user" not in notify and "resident" not in notify:
                yield ctx.smap.problem(path, "say who is told: 'roles' (a list of roles), 'user' (a user "
                                       "field), or both; or 'resident' (a phone field)", code="notify")
            if not isinstance(user, str):
                continue
            field = ctx.fields.get(user)
            if field is None:
                yield ctx.smap.problem((*path, "user"), f"unknown field '{user}'{suggest(user, ctx.fields)}",
                                       code="unknown_field")
            elif field.get("type") != "user":
                users = [n for n, f in ctx.fields.items() if f.get("type") == "user"]
                hint = f" (the user fields: {', '.join(users)})" if users else ""
                yield ctx.smap.problem((*path, "user"), f"field '{user}' is not a user field{hint}",
                                       code="notify")


def named_roles(document: Mapping[str, Any]) -> set[str]:
    """Every role a workflow names: create_roles, transitions, notifications, escalations (item_sla too)."""
    ctx = Context(document, SourceMap(""), {})
    named = {role for path, roles in role_lists(ctx) if path[0] not in ("access", "fields")
             for _, role in strings(roles)}
    # Whole-item limits escalate too (role_lists leaves them to checks_time, which names unknown ones).
    item_sla = [r for r in listed(document.get("item_sla")) if isinstance(r, dict)]
    return named | {role for rule in item_sla for _, role in strings(rule.get("escalate_to"))}


def default_see(document: Mapping[str, Any], personal: tuple[str, ...] | list[str]) -> frozenset[str]:
    """`access.see` when not written: every role named, the `personal` roles and admin."""
    return frozenset(named_roles(document) | set(personal) | {ADMIN_ROLE})


def access_block(ctx: Context) -> Iterator[Problem]:
    """`access.department` is an enum field or a department; `see` covers every role that acts or
    is told, and `personal` lies within `see`."""
    access = ctx.document.get("access")
    if not isinstance(access, dict):
        return
    department = access.get("department")
    if isinstance(department, str):
        yield from _department(ctx, department)
    see = access.get("see")
    if isinstance(see, list):
        seen = {role for _, role in strings(see)}
        for role in sorted(named_roles(ctx.document) - seen):
            if role in ctx.roles:
                message = (f"'{role}' acts on or is told about these items but may not see them: "
                           "add it to access.see")
                yield ctx.smap.problem(("access", "see"), message, code="access")
        for i, role in strings(access.get("personal")):
            if role not in seen and role in ctx.roles:
                message = f"'{role}' may not see the items at all (it is not in access.see)"
                yield ctx.smap.problem(("access", "personal", i), message, code="access")


def _department(ctx: Context, department: str) -> Iterator[Problem]:
    path: Path = ("access", "department")
    field = ctx.fields.get(department)
    if field is not None:
        if field.get("type") != "enum":
            yield ctx.smap.problem(path, f"field '{department}' is not an enum field: the department of "
                                   "an item is one of its options", code="access")
        return
    known = sorted(set((ctx.departments or {}).values()))
    if ctx.departments is not None and department not in known:
        enums = [n for n, f in ctx.fields.items() if f.get("type") == "enum"]
        message = (f"'{department}' is neither an enum field of this workflow"
                   f"{' (' + ', '.join(enums) + ')' if enums else ''} nor a department of roles.yaml "
                   f"({', '.join(known) or 'none'})")
        yield ctx.smap.problem(path, message, code="access")
