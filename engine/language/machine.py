"""The state graph of one published definition, held by a `transitions.Machine`.

Choice: the Machine holds the graph only. One Machine is built per published
definition version (the registry caches it with the compiled definition), with
`auto_transitions=False`, `ignore_invalid_triggers=False` and no model at all;
items are database rows and never become Machine models, because a Machine per
item costs ~340 µs and 18 KB and `Machine.add_model` grows with the models added.
`runtime.fire()` picks the branch from the compiled `TransitionDef`s directly (the
same order the Machine would try its conditions: guarded branches in file order,
then the unguarded "otherwise"); the Machine answers graph questions: which
triggers leave a state, which states can be reached, where a trigger may lead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from transitions import EventData, Machine

from engine.language.definition import TransitionDef, WorkflowDefinition

__all__ = ["StateGraph", "branch_order"]


def branch_order(candidates: tuple[TransitionDef, ...]) -> list[TransitionDef]:
    """Guarded branches in file order, then the unguarded ones (the "otherwise")."""
    return [t for t in candidates if t.when is not None] + [t for t in candidates if t.when is None]


def _condition(transition: TransitionDef) -> Any:
    when = transition.when
    assert when is not None

    # A compiled callable, never a string: transitions resolves strings with getattr/import.
    def holds(event: EventData) -> bool:
        values: Mapping[str, Any] = event.kwargs["values"]
        now: datetime = event.kwargs["now"]
        return bool(when.evaluate(values, now))

    return holds


class StateGraph:
    """One definition version's graph; built once per version, shared by every item."""

    def __init__(self, definition: WorkflowDefinition) -> None:
        self.definition = definition
        self.machine = Machine(
            model=None,
            states=list(definition.states),
            initial=definition.initial_state.name,
            auto_transitions=False,
            ignore_invalid_triggers=False,
            send_event=True,
        )
        for name in dict.fromkeys(t.name for t in definition.transitions):
            for transition in branch_order(tuple(t for t in definition.transitions if t.name == name)):
                self.machine.add_transition(
                    trigger=name,
                    source=list(transition.sources),
                    dest=transition.dest,
                    conditions=[_condition(transition)] if transition.when is not None else [],
                )

    def triggers(self, state: str) -> list[str]:
        """The names of the transitions leaving `state`, in file order."""
        return self.machine.get_triggers(state)

    def destinations(self, state: str, trigger: str) -> set[str]:
        """Every state `trigger` may lead to from `state` (one per branch)."""
        return {str(t.dest) for t in self.machine.get_transitions(trigger, source=state)}

    def reachable(self, start: str | None = None) -> set[str]:
        """The states reachable from `start` (default: the initial state), itself included."""
        first = start or self.definition.initial_state.name
        seen, queue = {first}, deque([first])
        while queue:
            state = queue.popleft()
            for trigger in self.triggers(state):
                for dest in self.destinations(state, trigger) - seen:
                    seen.add(dest)
                    queue.append(dest)
        return seen
