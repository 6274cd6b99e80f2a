"""Semantic checks of the whole-item limits (`item_sla:`) and of parameters named by overlays.

A whole-item limit has a state's `sla` entry shape, but it outlives every state: it counts from
the item's creation (`created`, the default), its reception (`received`) or a date field, never
from `entered`; the transition it fires must exist and need no input.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import Problem
from engine.language.check_context import Context, listed, strings
from engine.language.roles import unknown_role
from engine.language.schema import suggest

__all__ = ["ITEM_SINCE", "item_limits"]

ITEM_SINCE = ("created", "received")
"""What a whole-item limit may count from besides a date field."""
_DATE_TYPES = ("date", "datetime")


def item_limits(ctx: Context) -> Iterator[Problem]:
    """`item_sla` entries are complete and name what exists; `until` belongs to them only."""
    names = sorted({str(t["name"]) for _, t in ctx.transitions() if isinstance(t.get("name"), str)})
    for i, rule in enumerate(listed(ctx.document.get("item_sla"))):
        if not isinstance(rule, dict):
            continue
        path = ("item_sla", i)
        if ("within" in rule) == ("by" in rule):
            yield ctx.smap.problem(path, "give either 'within' (a duration) or 'by' (end_of_day)", code="sla")
        since = rule.get("since")
        if since == "entered":
            yield ctx.smap.problem((*path, "since"), "a limit on the whole item counts from 'created' (the "
                                   "default), 'received' or a date field, not from entering a state: put a "
                                   "state's own limit under that state's 'sla'", code="sla")
        elif isinstance(since, str) and since not in ITEM_SINCE:
            field = ctx.fields.get(since)
            if field is None:
                message = f"unknown field '{since}'{suggest(since, [*ITEM_SINCE, *ctx.fields])}"
                yield ctx.smap.problem((*path, "since"), message, code="unknown_field")
            elif field.get("type") not in _DATE_TYPES:
                yield ctx.smap.problem((*path, "since"), f"field '{since}' is not a date or datetime",
                                       code="not_a_date")
        fire = rule.get("fire")
        if isinstance(fire, str):
            branches = [t for _, t in ctx.transitions() if t.get("name") == fire]
            if not branches:
                yield ctx.smap.problem((*path, "fire"), f"this time limit fires '{fire}', but the workflow has "
                                       f"no transition of that name{suggest(fire, names)}", code="timer_transition")
            elif any(t.get("require") for t in branches):
                yield ctx.smap.problem((*path, "fire"), f"this time limit fires '{fire}', which requires "
                                       "fields: the system has nobody to fill them in", code="timer_transition")
        if "warn" in rule and not rule.get("escalate_to"):
            yield ctx.smap.problem((*path, "warn"), "a warning goes to 'escalate_to': list the roles to warn",
                                   key=True, code="sla")
        for u, state in strings(rule.get("until")):
            if state not in ctx.states:
                yield ctx.smap.problem((*path, "until", u), f"unknown state '{state}'{suggest(state, ctx.states)}",
                                       code="unknown_state")
        for r, role in strings(rule.get("escalate_to")):
            if role not in ctx.roles:
                message = unknown_role(role, ctx.roles, suggest(role, ctx.roles))
                yield ctx.smap.problem((*path, "escalate_to", r), message, code="unknown_role")
    for name, state in ctx.states.items():
        for i, rule in enumerate(listed(state.get("sla") if isinstance(state, dict) else None)):
            if isinstance(rule, dict) and "until" in rule:
                yield ctx.smap.problem(("states", name, "sla", i, "until"), "only a limit on the whole item "
                                       "(item_sla) has 'until': a state's own limit ends when the item leaves "
                                       "the state", key=True, code="sla")
