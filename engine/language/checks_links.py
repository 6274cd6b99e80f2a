"""Semantic checks of the `link` action (engine/runtime/item_refs.py).

    - link: {workflow: notice, number: notice_ref, states: [published]}

The workflow exists in the folder, `number` is a string field of this workflow (staff type the
other item's number into it), and each listed state is a state of the linked workflow.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import Problem
from engine.language.check_context import Context, listed, strings
from engine.language.schema import suggest

__all__ = ["link_actions"]

_NUMBER_TYPES = ("string",)


def link_actions(ctx: Context) -> Iterator[Problem]:
    """`link` names a known workflow, a string field of this workflow and states of the other."""
    for index, transition in ctx.transitions():
        for a, action in enumerate(listed(transition.get("actions"))):
            link = action.get("link") if isinstance(action, dict) else None
            if not isinstance(link, dict):
                continue
            path = ("transitions", index, "actions", a, "link")
            number = link.get("number")
            if isinstance(number, str):
                field = ctx.fields.get(number)
                if field is None:
                    yield ctx.smap.problem((*path, "number"), f"unknown field '{number}'{suggest(number, ctx.fields)}",
                                           code="unknown_field")
                elif field.get("type") not in _NUMBER_TYPES:
                    message = f"field '{number}' holds an item number: make it a string field, not {field.get('type')}"
                    yield ctx.smap.problem((*path, "number"), message, code="link")
            workflow = link.get("workflow")
            if ctx.workflows is None or not isinstance(workflow, str):
                continue
            if workflow not in ctx.workflows:
                message = f"unknown workflow '{workflow}'{suggest(workflow, ctx.workflows)}"
                yield ctx.smap.problem((*path, "workflow"), message, code="unknown_workflow")
                continue
            found = ctx.workflows[workflow].get("states")
            states = found if isinstance(found, dict) else {}
            for i, state in strings(link.get("states")):
                if state not in states:
                    message = f"workflow '{workflow}' has no state '{state}'{suggest(state, states)}"
                    yield ctx.smap.problem((*path, "states", i), message, code="unknown_state")
