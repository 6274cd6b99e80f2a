"""The state graph of one compiled definition, held by a `transitions.Machine`.

The Machine is the graph the runtime asks; nothing else holds it:
- which transitions leave a state (`leaving`; WorkflowDefinition.transitions_from asks it, so
  `fire`, `available`, the inbox and the item page all read the Machine);
- in what order the branches of one name are tried, and whether a branch's condition holds:
  `choose` walks the Machine's transitions for (name, state) in its order and checks each with
  the Machine's own `Condition` objects (engine/runtime/items.py `fire` asks it through `WorkflowDefinition.choose`);
- the edges of the diagrams (`edges`, for engine/language/graph.py) and reachability.

Branches of one name are added to the Machine in `branch_order`: guarded ones in file order,
then the unguarded "otherwise" (design.md, runtime rule 5), so the Machine's order is the try
order. A condition is a compiled callable, never a string (transitions resolves strings with
getattr/import).

Cost: one Machine per compiled definition, built by the compiler, cached with the published
version by the registry, shared by every item. Items are database rows and never become
Machine models: a Machine costs ~340 µs and ~18 KB, and `Machine.add_model` grows with the
models added. It is built with `model=None`, `auto_transitions=False` and `send_event=True`
(a condition gets the EventData carrying the item's values and the time).

The compiler builds it from the compiled states and transitions in one step; nothing changes
after that. The graph maps each of the Machine's transitions back to its `TransitionDef`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from transitions import EventData, Machine, Transition

from engine.language.definition import Expression, TransitionDef

if TYPE_CHECKING:
    from enum import Enum

    from transitions import State

__all__ = ["StateGraph", "branch_order"]


def branch_order(candidates: Iterable[TransitionDef]) -> list[TransitionDef]:
    """Guarded branches in file order, then the unguarded ones (the "otherwise")."""
    listed = list(candidates)
    return [t for t in listed if t.when is not None] + [t for t in listed if t.when is None]


def _condition(when: Expression) -> Any:
    def holds(event: EventData) -> bool:
        values: Mapping[str, Any] = event.kwargs["values"]
        now: datetime = event.kwargs["now"]
        return bool(when.evaluate(values, now))

    return holds


class StateGraph:
    """One compiled definition's graph; built once per version, shared by every item."""

    def __init__(self, states: Iterable[str], initial: str | None, transitions: Iterable[TransitionDef]) -> None:
        self.machine = Machine(
            model=None,
            states=list(states),
            initial=initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
            send_event=True,
        )
        self._initial = initial
        self._definitions: dict[Transition, TransitionDef] = {}
        # Each name's branches are added in `branch_order`, so the Machine's order is the try order.
        listed = list(transitions)
        for name in dict.fromkeys(t.name for t in listed):
            for transition in branch_order(t for t in listed if t.name == name):
                sources: list[str | Enum | State] = list(dict.fromkeys(transition.sources))
                conditions = [_condition(transition.when)] if transition.when is not None else []
                self.machine.add_transition(trigger=name, source=sources, dest=transition.dest,
                                            conditions=conditions)
                added = self.machine.events[name].transitions
                for source in dict.fromkeys(transition.sources):
                    self._definitions[added[source][-1]] = transition

    def leaving(self, state: str, name: str | None = None) -> tuple[TransitionDef, ...]:
        """The transitions leaving `state`: of one name in the Machine's (try) order, all in file order."""
        if name is not None:
            event = self.machine.events.get(name)
            if event is None:
                return ()
            return tuple(self._definitions[t] for t in event.transitions.get(state, ()))
        found = [self._definitions[t] for event in self.machine.events.values()
                 for t in event.transitions.get(state, ())]
        return tuple(sorted(found, key=lambda t: t.index))

    def choose(self, state: str, candidates: tuple[TransitionDef, ...], values: Mapping[str, Any],
               now: datetime) -> TransitionDef | None:
        """Of `candidates` (branches of one name leaving `state`), the one the Machine takes.

        The Machine's transitions for (name, state) are walked in its order, those not among
        the candidates (e.g. not permitted to the actor) skipped, and the first whose
        Conditions all hold on `values` at `now` is returned; None when none holds.
        """
        if not candidates:
            return None
        event = self.machine.events.get(candidates[0].name)
        if event is None:
            return None
        data = EventData(None, event, self.machine, None, (), {"values": values, "now": now})
        for branch in event.transitions.get(state, ()):
            transition = self._definitions[branch]
            if any(transition is c for c in candidates) and all(c.check(data) for c in branch.conditions):
                return transition
        return None

    def edges(self) -> list[tuple[str, TransitionDef]]:
        """(source state, transition) for every edge, in file order (transition, then its `from` list)."""
        found = [(state, self._definitions[t]) for event in self.machine.events.values()
                 for state, branches in event.transitions.items() for t in branches]
        return sorted(found, key=lambda edge: (edge[1].index, edge[1].sources.index(edge[0])))

    def triggers(self, state: str) -> list[str]:
        """The names of the transitions leaving `state`, in the order of their first entry in the file."""
        return self.machine.get_triggers(state)

    def destinations(self, state: str, trigger: str) -> set[str]:
        """Every state `trigger` may lead to from `state` (one per branch)."""
        return {t.dest for t in self.leaving(state, trigger)}

    def reachable(self, start: str | None = None) -> set[str]:
        """The states reachable from `start` (default: the initial state), itself included."""
        first = start or self._initial
        if first is None:
            return set()
        seen, queue = {first}, deque([first])
        while queue:
            state = queue.popleft()
            for transition in self.leaving(state):
                if transition.dest not in seen:
                    seen.add(transition.dest)
                    queue.append(transition.dest)
        return seen
