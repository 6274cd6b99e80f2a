"""Semantic checks: what JSON Schema cannot see.

Takes a document (which may have failed the schema in places), its SourceMap and the
role catalogue; yields `Problem`s. Every rule is a small generator reading only the parts
whose shape it can trust, so one run reports schema and meaning problems together.
Expressions, templates and durations (an SLA window that opens after it closes) are checked
where they are compiled (engine/language/compiler.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import Path, Problem
from engine.language.definition import ADMIN_ROLE, RESERVED_NAMES
from engine.language.schema import suggest
from engine.language.source import SourceMap


@dataclass(frozen=True)
class Context:
    """What every rule reads."""

    document: Mapping[str, Any]
    smap: SourceMap
    roles: Mapping[str, str]
    workflows: Mapping[str, Mapping[str, Any]] | None = None
    """Other workflows' documents by id, when known, to check `spawn`."""
    departments: Mapping[str, str] | None = None
    """Executor role → department (roles.yaml), to check `access.department`."""
    routes: frozenset[str] | None = None
    """The route names of the folder's routing files; None: not known, not checked."""

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.document.get(key)
        return {k: v for k, v in value.items() if isinstance(v, dict)} if isinstance(value, dict) else {}

    @property
    def states(self) -> dict[str, Any]:
        return self.mapping("states")

    @property
    def fields(self) -> dict[str, Any]:
        return self.mapping("fields")

    def transitions(self) -> Iterator[tuple[int, dict[str, Any]]]:
        value = self.document.get("transitions")
        if isinstance(value, list):
            for index, entry in enumerate(value):
                if isinstance(entry, dict):
                    yield index, entry

    def sources(self, transition: Mapping[str, Any]) -> list[tuple[Path, str]]:
        """The states a transition leaves, each with the path it was written at."""
        value = transition.get("from")
        if value == "*":
            return [((), name) for name, state in self.states.items() if state.get("final") is not True]
        if isinstance(value, str):
            return [(("from",), value)]
        if isinstance(value, list):
            return [(("from", i), v) for i, v in enumerate(value) if isinstance(v, str)]
        return []


def _list(value: Any) -> list[Any]:
    """`value` when it is a list; [] for anything the schema will already have refused."""
    return value if isinstance(value, list) else []


def _strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []


def unknown_states(ctx: Context) -> Iterator[Problem]:
    """`from` and `to` must name declared states."""
    states = ctx.states
    if not states:
        return
    for index, transition in ctx.transitions():
        refs = [(sub, name) for sub, name in ctx.sources(transition) if sub]
        if isinstance(transition.get("to"), str):
            refs.append((("to",), transition["to"]))
        for sub, name in refs:
            if name not in states:
                yield ctx.smap.problem(
                    ("transitions", index, *sub), f"unknown state '{name}'{suggest(name, states)}", code="unknown_state"
                )


def _role_lists(ctx: Context) -> Iterator[tuple[Path, Any]]:
    yield ("create_roles",), ctx.document.get("create_roles")
    for name, field in ctx.fields.items():
        yield ("fields", name, "roles"), field.get("roles")
    access = ctx.document.get("access")
    if isinstance(access, dict):
        yield ("access", "see"), access.get("see")
        yield ("access", "personal"), access.get("personal")
    for name, state in ctx.states.items():
        for i, rule in enumerate(_list(state.get("sla"))):
            if isinstance(rule, dict):
                yield ("states", name, "sla", i, "escalate_to"), rule.get("escalate_to")
    for index, transition in ctx.transitions():
        yield ("transitions", index, "roles"), transition.get("roles")
        for a, action in enumerate(_list(transition.get("actions"))):
            if isinstance(action, dict) and isinstance(action.get("notify"), dict):
                yield ("transitions", index, "actions", a, "notify", "roles"), action["notify"].get("roles")


def unknown_roles(ctx: Context) -> Iterator[Problem]:
    """Every role id must be in workflows/roles.yaml."""
    for path, roles in _role_lists(ctx):
        for i, role in _strings(roles):
            if role not in ctx.roles:
                message = f"unknown role '{role}'{suggest(role, ctx.roles)}; the roles are listed in roles.yaml"
                yield ctx.smap.problem((*path, i), message, code="unknown_role")


def one_initial_state(ctx: Context) -> Iterator[Problem]:
    """Exactly one state is `initial: true`."""
    states = ctx.states
    if not states:
        return
    initial = [name for name, state in states.items() if state.get("initial") is True]
    if not initial:
        yield ctx.smap.problem(("states",), "no state is marked 'initial: true'", key=True, code="no_initial")
    for name in initial[1:]:
        message = f"more than one initial state ('{initial[0]}' and '{name}'); keep one"
        yield ctx.smap.problem(("states", name, "initial"), message, code="many_initial")


def _graph_is_sound(ctx: Context) -> bool:
    """Graph rules are skipped while a transition names an unknown state: fix the names first."""
    states = ctx.states
    for _, transition in ctx.transitions():
        names = [name for _, name in ctx.sources(transition)] + [transition.get("to")]
        if any(not isinstance(name, str) or name not in states for name in names):
            return False
    return True


def _edges(ctx: Context) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in ctx.states}
    for _, transition in ctx.transitions():
        target = transition.get("to")
        for _, source in ctx.sources(transition):
            if source in edges and isinstance(target, str) and target in edges:
                edges[source].add(target)
    return edges


def reachable_states(ctx: Context) -> Iterator[Problem]:
    """Every state can be reached from the initial one."""
    initial = [name for name, state in ctx.states.items() if state.get("initial") is True]
    if len(initial) != 1 or not _graph_is_sound(ctx):
        return
    edges = _edges(ctx)
    seen, todo = {initial[0]}, [initial[0]]
    while todo:
        for target in edges[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    for name in ctx.states:
        if name not in seen:
            message = f"state '{name}' cannot be reached from the initial state '{initial[0]}'"
            yield ctx.smap.problem(("states", name), message, key=True, code="unreachable")


def ways_out(ctx: Context) -> Iterator[Problem]:
    """A non-final state has a transition out; a final state has none."""
    if not _graph_is_sound(ctx):
        return
    leaving: dict[str, list[Path]] = {name: [] for name in ctx.states}
    for index, transition in ctx.transitions():
        for sub, source in ctx.sources(transition):
            if source in leaving and sub:
                leaving[source].append(("transitions", index, *sub))
    for name, state in ctx.states.items():
        if state.get("final") is True:
            for path in leaving[name]:
                message = f"'{name}' is a final state: no transition may leave it"
                yield ctx.smap.problem(path, message, code="final_exit")
        elif not leaving[name] and not any(
            transition.get("from") == "*" for _, transition in ctx.transitions()
        ):
            message = f"state '{name}' has no way out: add a transition from it, or mark it 'final: true'"
            yield ctx.smap.problem(("states", name), message, key=True, code="dead_end")


def known_fields(ctx: Context) -> Iterator[Problem]:
    """`require`, `set` and `spawn.copy` name declared fields."""
    fields = ctx.fields
    for index, transition in ctx.transitions():
        base = ("transitions", index)
        for i, name in _strings(transition.get("require")):
            if name not in fields:
                yield ctx.smap.problem((*base, "require", i), f"unknown field '{name}'{suggest(name, fields)}",
                                       code="unknown_field")
        if isinstance(transition.get("set"), dict):
            for name in transition["set"]:
                if name not in fields:
                    yield ctx.smap.problem((*base, "set", name), f"unknown field '{name}'{suggest(name, fields)}",
                                           key=True, code="unknown_field")
        for a, action in enumerate(_list(transition.get("actions"))):
            spawn = action.get("spawn") if isinstance(action, dict) else None
            if isinstance(spawn, dict):
                yield from _check_spawn(ctx, spawn, (*base, "actions", a, "spawn"))


def _check_spawn(ctx: Context, spawn: Mapping[str, Any], path: Path) -> Iterator[Problem]:
    target_fields: Mapping[str, Any] | None = None
    workflow = spawn.get("workflow")
    if ctx.workflows is not None and isinstance(workflow, str):
        if workflow not in ctx.workflows:
            message = f"unknown workflow '{workflow}'{suggest(workflow, ctx.workflows)}"
            yield ctx.smap.problem((*path, "workflow"), message,
                                   code="unknown_workflow")
        else:
            value = ctx.workflows[workflow].get("fields")
            target_fields = value if isinstance(value, dict) else {}
    for i, name in _strings(spawn.get("copy")):
        if name not in ctx.fields:
            yield ctx.smap.problem((*path, "copy", i), f"unknown field '{name}'{suggest(name, ctx.fields)}",
                                   code="unknown_field")
        elif target_fields is not None and name not in target_fields:
            yield ctx.smap.problem((*path, "copy", i), f"workflow '{workflow}' has no field '{name}' to copy into",
                                   code="unknown_field")


def enum_options(ctx: Context) -> Iterator[Problem]:
    """An enum field has options; other types have none."""
    for name, field in ctx.fields.items():
        if field.get("type") == "enum" and "options" not in field:
            yield ctx.smap.problem(("fields", name, "type"), "an enum field needs 'options'", code="enum_options")
        elif field.get("type") not in (None, "enum") and "options" in field:
            yield ctx.smap.problem(("fields", name, "options"), "only an enum field has 'options'", key=True,
                                   code="enum_options")


def state_flags(ctx: Context) -> Iterator[Problem]:
    """A final state is neither initial nor paused, and has no time limit or timer; a paused
    state has no time limit (time there does not count)."""
    for name, state in ctx.states.items():
        if state.get("paused") is True and state.get("final") is not True and state.get("sla"):
            yield ctx.smap.problem(("states", name, "sla"), "a paused state has no time limit: time spent "
                                   "there does not count (use a timer to resume it)", key=True, code="state_flags")
        if state.get("final") is True:
            for flag in ("initial", "paused"):
                if state.get(flag) is True:
                    yield ctx.smap.problem(("states", name, flag), f"a final state cannot be {flag}",
                                           code="state_flags")
            for key, what in (("sla", "time limit"), ("timers", "timer")):
                if state.get(key):
                    yield ctx.smap.problem(("states", name, key), f"a final state has no {what}", key=True,
                                           code="state_flags")


def ambiguous_transitions(ctx: Context) -> Iterator[Problem]:
    """Two transitions of one name from one state need a `when` on at least one."""
    seen: dict[tuple[str, str], int] = {}
    for index, transition in ctx.transitions():
        name = transition.get("name")
        if not isinstance(name, str) or "when" in transition:
            continue
        for _, source in ctx.sources(transition):
            first = seen.setdefault((name, source), index)
            if first != index:
                message = (f"transition '{name}' from '{source}' is also defined at transitions.{first} "
                           "and neither has a 'when': add a condition to one")
                yield ctx.smap.problem(("transitions", index, "name"), message, code="ambiguous")
                break


_DATE_TYPES = ("date", "datetime")


def _system_transition(ctx: Context, state: str, name: Any, path: Path, who: str) -> Iterator[Problem]:
    """A transition fired by the system from `state` must leave it and need no input."""
    if not isinstance(name, str):
        return
    branches = [t for _, t in ctx.transitions() if t.get("name") == name]
    leaving = [t for t in branches if any(source == state for _, source in ctx.sources(t))]
    if not leaving:
        names = sorted({str(t["name"]) for _, t in ctx.transitions() if isinstance(t.get("name"), str)})
        froms = sorted({source for t in branches for _, source in ctx.sources(t)})
        hint = suggest(name, names) if not branches else f" (it leaves {', '.join(repr(f) for f in froms)})"
        message = f"{who} fires '{name}', but no transition of that name leaves state '{state}'{hint}"
        yield ctx.smap.problem(path, message, code="timer_transition")
    elif any(t.get("require") for t in leaving):
        message = f"{who} fires '{name}', which requires fields: the system has nobody to fill them in"
        yield ctx.smap.problem(path, message, code="timer_transition")


def _date_field(ctx: Context, name: Any, path: Path, allowed: tuple[str, ...] = ()) -> Iterator[Problem]:
    if not isinstance(name, str) or name in allowed:
        return
    field = ctx.fields.get(name)
    if field is None:
        choices = [*allowed, *ctx.fields]
        yield ctx.smap.problem(path, f"unknown field '{name}'{suggest(name, choices)}", code="unknown_field")
    elif field.get("type") not in _DATE_TYPES:
        yield ctx.smap.problem(path, f"field '{name}' is not a date or datetime", code="not_a_date")


def time_limits(ctx: Context) -> Iterator[Problem]:
    """`sla` entries and `timers` are complete and name what exists."""
    for name, state in ctx.states.items():
        for i, rule in enumerate(_list(state.get("sla"))):
            if not isinstance(rule, dict):
                continue
            path = ("states", name, "sla", i)
            if ("within" in rule) == ("by" in rule):
                yield ctx.smap.problem(path, "give either 'within' (a duration) or 'by' (end_of_day)", code="sla")
            yield from _date_field(ctx, rule.get("since"), (*path, "since"), ("entered", "created"))
            yield from _system_transition(ctx, name, rule.get("fire"), (*path, "fire"), "this time limit")
            if "warn" in rule and not rule.get("escalate_to"):
                yield ctx.smap.problem((*path, "warn"), "a warning goes to 'escalate_to': list the roles to warn",
                                       key=True, code="sla")
        for i, timer in enumerate(_list(state.get("timers"))):
            if not isinstance(timer, dict):
                continue
            path = ("states", name, "timers", i)
            if ("after" in timer) == ("at" in timer):
                yield ctx.smap.problem(path, "give either 'after' (a duration) or 'at' (a date field)", code="timer")
            yield from _date_field(ctx, timer.get("at"), (*path, "at"))
            yield from _system_transition(ctx, name, timer.get("fire"), (*path, "fire"), "this timer")


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
        for a, action in enumerate(_list(transition.get("actions"))):
            notify = action.get("notify") if isinstance(action, dict) else None
            if not isinstance(notify, dict):
                continue
            path: Path = ("transitions", index, "actions", a, "notify")
            user = notify.get("user")
            if "roles" not in notify and "user" not in notify:
                yield ctx.smap.problem(path, "say who is told: 'roles' (a list of roles), 'user' (a user "
                                       "field), or both", code="notify")
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
    """Every role a workflow names: create_roles, transitions, notifications, escalations."""
    ctx = Context(document, SourceMap(""), {})
    return {role for path, roles in _role_lists(ctx) if path[0] not in ("access", "fields")
            for _, role in _strings(roles)}


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
        seen = {role for _, role in _strings(see)}
        for role in sorted(named_roles(ctx.document) - seen):
            if role in ctx.roles:
                message = (f"'{role}' acts on or is told about these items but may not see them: "
                           "add it to access.see")
                yield ctx.smap.problem(("access", "see"), message, code="access")
        for i, role in _strings(access.get("personal")):
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


RULES: tuple[Callable[[Context], Iterator[Problem]], ...] = (
    unknown_states,
    unknown_roles,
    one_initial_state,
    reachable_states,
    ways_out,
    known_fields,
    enum_options,
    state_flags,
    ambiguous_transitions,
    time_limits,
    reserved_names,
    user_fields,
    notify_targets,
    access_block,
)


def check(ctx: Context) -> list[Problem]:
    """Run every rule; a rule never sees a document that is not a mapping."""
    if not isinstance(ctx.document, Mapping):
        return []
    return [problem for rule in RULES for problem in rule(ctx)]
