"""The compiled, immutable workflow definition: what the runtime works from.

The compiler (engine/language/compiler.py) turns a validated YAML document into these frozen
dataclasses, once per published version. Nothing here reads YAML or dicts; every
default has already been applied, every expression is already compiled, every
reference already checked.

Conventions:
- `TransitionDef.sources` is already expanded: `from: "*"` becomes every non-final state.
- `TransitionDef.roles` empty means only the system actor (timers) may fire it.
- Mappings are read-only (`MappingProxyType`) and keep the file's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from engine.language.templates import Template

if TYPE_CHECKING:
    from engine.language.machine import StateGraph

__all__ = [
    "SYSTEM_ROLE", "Action", "Assignment", "Duration", "Expression", "FieldDef", "NotifyAction", "SlaRule",
    "SpawnAction", "StateDef", "Template", "Timer", "TransitionDef", "WorkflowDefinition",
]

SYSTEM_ROLE = "system"


class Expression(Protocol):
    """A compiled expression (see engine/language/expr.py)."""

    @property
    def source(self) -> str:
        """The text as written in the file."""
        ...

    @property
    def names(self) -> frozenset[str]:
        """The field names it reads."""
        ...

    def evaluate(self, values: Mapping[str, Any], now: datetime) -> Any:
        """Evaluate on an item's field values; `now` is aware, in the estate's time zone."""
        ...


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One of the item's data fields, as declared under `fields:`."""

    name: str
    type: str
    label: str
    required: bool = False
    personal: bool = False
    options: Mapping[str, str] = field(default_factory=dict)
    """For `enum`: option id → Chinese label, in file order."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time such as `2d`, parsed once by the compiler (engine/language/compiler.py).

    `amount` and `unit` ('m', 'h', 'd' or 'w') are the text's parts: working time counts
    days and weeks by the calendar's working days, not by `delta`. `working` counts by the
    estate's working calendar.
    """

    delta: timedelta
    text: str
    amount: int
    unit: str
    working: bool = False


@dataclass(frozen=True, slots=True)
class SlaRule:
    """One time limit on a state (`sla:` entry).

    The limit runs from `since` ('entered', 'created', or a date/datetime field) for
    `within`, or until `by` ('end_of_day': midnight ending the local day of `since`).
    Time spent in paused states does not count. With `not_before` the limit is a window:
    not yet due before `since + not_before`, due until the limit, overdue after it.
    """

    within: Duration | None
    when: Expression | None = None
    escalate_to: tuple[str, ...] = ()
    by: str | None = None
    since: str = "entered"
    not_before: Duration | None = None
    fire: str | None = None
    """A transition the system fires when the limit passes."""
    warn: float | None = None
    """A fraction (0.8 for `warn: 80%`): notify `escalate_to` when that much of the time is used."""
    working: bool = False
    """Count working time by the estate's calendar (`calendar: working`)."""
    index: int = 0


@dataclass(frozen=True, slots=True)
class Timer:
    """A timed transition on a state: fire `fire` after `after`, or at the time in field `at`."""

    fire: str
    after: Duration | None = None
    at: str | None = None
    working: bool = False
    index: int = 0


@dataclass(frozen=True, slots=True)
class StateDef:
    """A state an item can be in."""

    name: str
    label: str
    initial: bool = False
    final: bool = False
    paused: bool = False
    """Time spent here does not count against time limits."""
    sla: tuple[SlaRule, ...] = ()
    timers: tuple[Timer, ...] = ()


@dataclass(frozen=True, slots=True)
class NotifyAction:
    """Write an outbox row for each role, with the rendered template."""

    roles: tuple[str, ...]
    template: Template


@dataclass(frozen=True, slots=True)
class SpawnAction:
    """Create a linked item of another workflow, copying the named fields."""

    workflow: str
    copy: tuple[str, ...] = ()


Action = NotifyAction | SpawnAction


@dataclass(frozen=True, slots=True)
class Assignment:
    """One `set:` entry: a field gets an expression's value, or a literal."""

    field: str
    expression: Expression | None = None
    literal: Any = None

    def value(self, values: Mapping[str, Any], now: datetime) -> Any:
        """The value to store, computed on the working copy of the item."""
        if self.expression is not None:
            return self.expression.evaluate(values, now)
        return self.literal


@dataclass(frozen=True, slots=True)
class TransitionDef:
    """One entry of `transitions:`; several may share a name (branches chosen by `when`)."""

    name: str
    label: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...] = ()
    when: Expression | None = None
    require: tuple[str, ...] = ()
    set: tuple[Assignment, ...] = ()
    actions: tuple[Action, ...] = ()
    index: int = 0
    """Position in the file."""

    @property
    def system_only(self) -> bool:
        """Only the system actor (timers) may fire a transition without roles."""
        return not self.roles


@dataclass(frozen=True, slots=True, eq=False)
class WorkflowDefinition:
    """A whole workflow, compiled. Built once per published version; never mutated."""

    id: str
    title: str
    number_prefix: str
    create_roles: tuple[str, ...]
    fields: Mapping[str, FieldDef]
    states: Mapping[str, StateDef]
    transitions: tuple[TransitionDef, ...]
    graph: StateGraph = field(compare=False, repr=False)
    """The transitions.Machine holding the states and transitions (engine/language/machine.py)."""
    source: str = ""
    """The file it came from (for messages)."""
    document: Mapping[str, Any] = field(default_factory=dict)
    """The validated (overlay-merged) document, as published."""

    @property
    def initial_state(self) -> StateDef:
        """The one state marked `initial: true`."""
        return next(s for s in self.states.values() if s.initial)

    def transitions_from(self, state: str, name: str | None = None) -> tuple[TransitionDef, ...]:
        """The transitions leaving `state`, as the state graph's Machine holds them.

        With `name`: that name's branches in the order they are tried (guarded ones in file
        order, then the "otherwise"). Without: every transition leaving `state`, in file order.
        """
        return self.graph.leaving(state, name)

    def choose(self, state: str, candidates: tuple[TransitionDef, ...], values: Mapping[str, Any],
               now: datetime) -> TransitionDef | None:
        """The branch fire() takes: of `candidates` (one name, leaving `state`), the first in the
        Machine's order whose condition holds on `values` at `now` (aware, estate time)."""
        return self.graph.choose(state, candidates, values, now)
