"""Semantic checks: what JSON Schema cannot see.

Takes a document (which may have failed the schema in places), its SourceMap and the
role catalogue (a `Context`, engine/language/check_context.py); yields `Problem`s. The
rules about people (reserved names, user fields, notify targets, access) are in
checks_people.py. Every rule is a small generator reading only the parts whose shape it
can trust, so one run reports schema and meaning problems together.
Expressions, templates and durations (an SLA window that opens after it closes) are checked
where they are compiled (engine/language/compiler.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from engine.errors import Path, Problem
from engine.language.check_context import Context, listed, role_lists, strings
from engine.language.checks_files import file_fields
from engine.language.checks_links import link_actions
from engine.language.checks_people import access_block, notify_targets, reserved_names, user_fields
from engine.language.checks_steps import countersigns, linked_reactions, log_fields, require_new, set_before_copy, stays
from engine.language.checks_time import item_limits
from engine.language.checks_wording import summary_field
from engine.language.roles import unknown_role
from engine.language.schema import suggest

__all__ = ["RULES", "Context", "check"]


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


def unknown_roles(ctx: Context) -> Iterator[Problem]:
    """Every role id must be in workflows/roles.yaml."""
    for path, roles in role_lists(ctx):
        for i, role in strings(roles):
            if role not in ctx.roles:
                message = unknown_role(role, ctx.roles, suggest(role, ctx.roles))
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
        for i, name in strings(transition.get("require")):
            if name not in fields:
                yield ctx.smap.problem((*base, "require", i), f"unknown field '{name}'{suggest(name, fields)}",
                                       code="unknown_field")
        if isinstance(transition.get("set"), dict):
            for name in transition["set"]:
                if name not in fields:
                    yield ctx.smap.problem((*base, "set", name), f"unknown field '{name}'{suggest(name, fields)}",
                                           key=True, code="unknown_field")
        for a, action in enumerate(listed(transition.get("actions"))):
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
    for i, name in strings(spawn.get("copy")):
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
        for i, rule in enumerate(listed(state.get("sla"))):
            if not isinstance(rule, dict):
                continue
            path = ("states", name, "sla", i)
            if ("within" in rule) == ("by" in rule):
                yield ctx.smap.problem(path, "give either 'within' (a duration) or 'by' (end_of_day)", code="sla")
            yield from _date_field(ctx, rule.get("since"), (*path, "since"), ("entered", "created", "received"))
            yield from _system_transition(ctx, name, rule.get("fire"), (*path, "fire"), "this time limit")
            if "warn" in rule and not rule.get("escalate_to"):
                yield ctx.smap.problem((*path, "warn"), "a warning goes to 'escalate_to': list the roles to warn",
                                       key=True, code="sla")
        for i, timer in enumerate(listed(state.get("timers"))):
            if not isinstance(timer, dict):
                continue
            path = ("states", name, "timers", i)
            if ("after" in timer) == ("at" in timer):
                yield ctx.smap.problem(path, "give either 'after' (a duration) or 'at' (a date field)", code="timer")
            yield from _date_field(ctx, timer.get("at"), (*path, "at"))
            yield from _system_transition(ctx, name, timer.get("fire"), (*path, "fire"), "this timer")


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
    require_new,
    set_before_copy,
    log_fields,
    stays,
    countersigns,
    linked_reactions,
    item_limits,
    summary_field,
    file_fields,
    link_actions,
)


def check(ctx: Context) -> list[Problem]:
    """Run every rule; a rule never sees a document that is not a mapping."""
    if not isinstance(ctx.document, Mapping):
        return []
    return [problem for rule in RULES for problem in rule(ctx)]
