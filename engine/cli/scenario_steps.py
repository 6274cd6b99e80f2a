"""Scenario keys about what staff read: the button pressed, the refusal shown, the step the history names.

    branch_of(definition, state, name, raw)      a step's `branch:` (a button's label, or an index) → its index
    refusal_problem(definition, error, fragment) why an `expect_refusal:` fragment does not match, or None
    last_step(session, item, definition)         the timeline's label of the item's last transition

`branch:` presses one branch's button, as the item page does (fire's `branch`): name it by the
label the page shows (the transition's `label`). `expect_refusal:` is a fragment of the
refusal's message, which must never quote an expression of the workflow. `expect: {last_step:}`
is the label the item page's history shows for the last transition (engine/views/timeline.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cli.scenario_cast import Failed
from engine.errors import TransitionError
from engine.language.definition import WorkflowDefinition
from engine.runtime.items import ItemView
from engine.store.models import ItemHistory
from engine.views.timeline import step_label

__all__ = ["branch_of", "last_step", "refusal_problem"]


def branch_of(definition: WorkflowDefinition, state: str, name: str, raw: Any) -> int | None:
    """The index of the branch a step's `branch:` names among `name`'s entries leaving `state`."""
    if raw is None:
        return None
    named = definition.transitions_from(state, name)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw  # fire() refuses an index that is not one of the step's
    found = [t.index for t in named if t.label == str(raw)]
    if len(found) != 1:
        labels = "、".join(t.label for t in sorted(named, key=lambda t: t.index)) or "(none)"
        raise Failed(f"branch {raw!r} is not the label of one branch of {name} in state {state} "
                     f"(the branches: {labels})")
    return found[0]


def refusal_problem(definition: WorkflowDefinition, error: TransitionError, fragment: Any) -> str | None:
    """Why the refusal does not read as expected: the fragment missing, or an expression quoted to staff."""
    message = error.message
    if str(fragment) not in message:
        return f"expected a refusal saying {str(fragment)!r}, got {error.code}: {message}"
    sources = [t.when.source for t in definition.transitions if t.when is not None]
    quoted = next((s for s in sources if s in message), None)
    if quoted is not None:
        return f"the refusal quotes the expression {quoted!r}: {message}"
    return None


def last_step(session: Session, item: ItemView, definition: WorkflowDefinition) -> str:
    """The history's label of the item's last transition ('登记' for the creation)."""
    row = session.execute(
        select(ItemHistory.transition, ItemHistory.from_state, ItemHistory.to_state, ItemHistory.branch)
        .where(ItemHistory.item_id == item.id, ItemHistory.kind == "transition")
        .order_by(ItemHistory.id.desc()).limit(1)).first()
    if row is None or row.from_state is None:
        return "登记"
    return step_label(definition, row.transition, row.from_state, row.to_state, row.branch)
