"""Semantic checks of what a step does beyond moving: the order of data, `set` and `spawn`,
`require_new`, `stay`, log fields, countersign and reactions to linked items (`on_linked`).

The order a step runs in (docs/workflow-language.md "What a step does, in order"): the step's
data, then `set`, then the actions on the values after `set`. So a `set` that clears a field
the same step's `spawn` copies would leave the spawned item without it: refused here, not at
run time. Registered in engine/language/checks.py's RULES.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.errors import Path, Problem
from engine.language.check_context import Context, listed, strings
from engine.language.roles import unknown_role
from engine.language.schema import suggest

__all__ = ["countersigns", "linked_reactions", "log_fields", "require_new", "set_before_copy", "stays"]

LOG = "log"
FINAL = "final"


def _spawns(transition: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for a, action in enumerate(listed(transition.get("actions"))):
        spawn = action.get("spawn") if isinstance(action, dict) else None
        if isinstance(spawn, dict):
            yield a, spawn


def require_new(ctx: Context) -> Iterator[Problem]:
    """`require_new` names declared fields."""
    for index, transition in ctx.transitions():
        for i, name in strings(transition.get("require_new")):
            if name not in ctx.fields:
                yield ctx.smap.problem(("transitions", index, "require_new", i),
                                       f"unknown field '{name}'{suggest(name, ctx.fields)}", code="unknown_field")


def set_before_copy(ctx: Context) -> Iterator[Problem]:
    """A step's `set` runs before its `spawn` copies: clearing a copied field there is refused."""
    for index, transition in ctx.transitions():
        assigned = transition.get("set")
        if not isinstance(assigned, dict):
            continue
        copied = {name for _, spawn in _spawns(transition) for _, name in strings(spawn.get("copy"))}
        for name, value in assigned.items():
            if value is None and name in copied:
                message = (f"'set' runs before 'spawn' copies: clearing '{name}' here leaves the spawned item "
                           f"without it; stop copying it, or clear it in a later step")
                yield ctx.smap.problem(("transitions", index, "set", name), message, code="set_before_copy")


def log_fields(ctx: Context) -> Iterator[Problem]:
    """A log field only grows by a text given in a step: `set` and `spawn.copy` cannot write it."""
    logs = {name for name, field in ctx.fields.items() if field.get("type") == LOG}
    for index, transition in ctx.transitions():
        base: Path = ("transitions", index)
        if isinstance(transition.get("set"), dict):
            for name in transition["set"]:
                if name in logs:
                    yield ctx.smap.problem((*base, "set", name), f"'{name}' is a log field (跟进记录): entries are "
                                           "added by giving a text in a step, never set", key=True, code="log_field")
        for a, spawn in _spawns(transition):
            target = _target_fields(ctx, spawn.get("workflow"))
            for i, name in strings(spawn.get("copy")):
                if name in logs or target.get(name, {}).get("type") == LOG:
                    yield ctx.smap.problem((*base, "actions", a, "spawn", "copy", i),
                                           f"'{name}' is a log field (跟进记录): its entries belong to this item "
                                           "and are not copied", code="log_field")


def _target_fields(ctx: Context, workflow: Any) -> dict[str, Any]:
    if ctx.workflows is None or not isinstance(workflow, str) or workflow not in ctx.workflows:
        return {}
    found = ctx.workflows[workflow].get("fields")
    return {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}


def stays(ctx: Context) -> Iterator[Problem]:
    """A `stay` step records without moving: its `to` is its one `from` state."""
    for index, transition in ctx.transitions():
        if transition.get("stay") is not True:
            continue
        target, source = transition.get("to"), transition.get("from")
        sources = [source] if isinstance(source, str) else source
        if source == "*" or not isinstance(sources, list) or any(s != target for s in sources):
            message = (f"a 'stay' step records without moving: 'from' must be its 'to' state ('{target}'); "
                       "write one entry per state")
            yield ctx.smap.problem(("transitions", index, "stay"), message, code="stay")


def countersigns(ctx: Context) -> Iterator[Problem]:
    """A countersign's signers exist, may fire the step, and are at least two."""
    users = [name for name, field in ctx.fields.items() if field.get("type") == "user"]
    for index, transition in ctx.transitions():
        rule = transition.get("countersign")
        if not isinstance(rule, dict):
            continue
        path: Path = ("transitions", index, "countersign")
        allowed = {r for _, r in strings(transition.get("roles"))}
        roles, people = strings(rule.get("roles")), strings(rule.get("users"))
        for i, role in roles:
            if role not in ctx.roles:
                yield ctx.smap.problem((*path, "roles", i), unknown_role(role, ctx.roles, suggest(role, ctx.roles)),
                                       code="unknown_role")
            elif role not in allowed:
                yield ctx.smap.problem((*path, "roles", i), f"'{role}' signs but may not fire this step: "
                                       "add it to the transition's roles", code="countersign")
        for i, name in people:
            if name not in users:
                yield ctx.smap.problem((*path, "users", i), f"'{name}' is not a user field "
                                       f"(the user fields: {', '.join(users) or 'none'})", code="countersign")
        if len(roles) + len(people) < 2:
            yield ctx.smap.problem(path, "a countersign (会签) needs at least two signers: list them under "
                                   "'roles' and 'users'", code="countersign")
        if transition.get("stay") is True:
            yield ctx.smap.problem(path, "a 'stay' step does not move, so it has nothing to countersign",
                                   code="countersign")


def linked_reactions(ctx: Context) -> Iterator[Problem]:
    """`on_linked`: a workflow this one spawns, one of its states (or final), a step leaving this state
    that the system can fire (no `require`, `require_new` or countersign)."""
    spawned = {str(spawn["workflow"]) for _, t in ctx.transitions() for _, spawn in _spawns(t)
               if isinstance(spawn.get("workflow"), str)}
    for name, state in ctx.states.items():
        for i, rule in enumerate(listed(state.get("on_linked"))):
            if not isinstance(rule, dict):
                continue
            path: Path = ("states", name, "on_linked", i)
            workflow, reaches, fire = rule.get("workflow"), rule.get("reaches"), rule.get("fire")
            if isinstance(workflow, str) and workflow not in spawned:
                message = (f"no step of this workflow spawns '{workflow}'{suggest(workflow, spawned)}: "
                           "nothing to react to")
                yield ctx.smap.problem((*path, "workflow"), message, code="on_linked")
            elif isinstance(workflow, str) and isinstance(reaches, str) and reaches != FINAL:
                yield from _reached(ctx, workflow, reaches, (*path, "reaches"))
            if isinstance(fire, str):
                yield from _fired(ctx, name, fire, (*path, "fire"))


def _reached(ctx: Context, workflow: str, reaches: str, path: Path) -> Iterator[Problem]:
    if ctx.workflows is None or workflow not in ctx.workflows:
        return  # known_fields reports an unknown spawned workflow
    states = ctx.workflows[workflow].get("states")
    names = list(states) if isinstance(states, dict) else []
    if reaches not in names:
        yield ctx.smap.problem(path, f"workflow '{workflow}' has no state '{reaches}'{suggest(reaches, names)}; "
                               "name one of its states, or write final", code="on_linked")


def _fired(ctx: Context, state: str, name: str, path: Path) -> Iterator[Problem]:
    leaving = [t for _, t in ctx.transitions()
               if t.get("name") == name and any(s == state for _, s in ctx.sources(t))]
    if not leaving:
        names = sorted({str(t["name"]) for _, t in ctx.transitions() if isinstance(t.get("name"), str)})
        yield ctx.smap.problem(path, f"no transition '{name}' leaves state '{state}'{suggest(name, names)}",
                               code="on_linked")
    elif any(t.get("require") or t.get("require_new") or t.get("countersign") for t in leaving):
        yield ctx.smap.problem(path, f"'{name}' requires fields or signatures: the system has nobody to give them",
                               code="on_linked")
