"""The compiled, immutable workflow definition: what the runtime works from.

The compiler (engine/language/compiler.py) turns a validated YAML document into these frozen
dataclasses, once per published version. Nothing here reads YAML or dicts; every
default has already been applied, every expression is already compiled, every
reference already checked.

Conventions:
- `TransitionDef.sources` is already expanded: `from: "*"` becomes every non-final state.
- `TransitionDef.roles` empty means only the system actor (timers) may fire it.
- Mappings are read-only (`MappingProxyType`) and keep the file's order.
- Expressions may read the acting user: `me` (the username; null for the system) and `my_roles`
  (the role ids held in the item's estate). The caller adds both to a copy of the values before
  judging a transition's `when` (they are never stored); `ME in expression.names` says whether
  an expression reads `me`, i.e. whether a refusal means "not the person in charge".
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
    "ADMIN_ROLE", "DEFAULT_PERSONAL", "ME", "MY_ROLES", "RESERVED_NAMES", "SYSTEM_ROLE", "AccessRule", "Action",
    "Assignment", "Countersign", "Duration", "Expression", "FieldDef", "LinkAction", "LinkReaction", "NotifyAction",
    "Parameter", "ResidentNotifyAction", "SlaRule",
    "SpawnAction", "StateDef", "Template", "Timer", "TransitionDef", "WorkflowDefinition",
]

SYSTEM_ROLE = "system"
ME = "me"
"""In expressions: the acting user's username (a string; null for the system actor)."""
MY_ROLES = "my_roles"
"""In expressions: the role ids the acting user holds in the item's estate (a list)."""
RESERVED_NAMES = frozenset({ME, MY_ROLES})
"""Names no field may take: expressions give them the acting user."""
ADMIN_ROLE = "admin"
DEFAULT_PERSONAL = ("frontdesk", "housekeeper", "cs_supervisor", "cs_manager", "project_manager", "branch_leader")
"""Who sees personal fields in full unless a workflow's `access.personal` says otherwise: the
customer-service roles and the managers (shared/domain.md "Rules about data")."""


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
    roles: tuple[str, ...] = ()
    """For `user`: the roles the person named must hold in the item's estate (empty: any staff of it)."""
    route: str | None = None
    """For `user`: the routing table (workflows/estates/<estate>/_routing.yaml) that pre-fills the form."""
    max_size: int | None = None
    """For `file`: the largest file accepted, in bytes (None: engine/files/attachments.py's default)."""
    accept: tuple[str, ...] = ()
    """For `file`: kinds (image, pdf, office) or extensions (.dwg) accepted; empty: images and PDF."""
    multiple: bool = False
    """For `file`: several files (each step adds to them); otherwise a new file replaces the old one."""


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

    The limit runs from `since` ('entered', 'created', 'received', or a date/datetime field) for
    `within`, or until `by` ('end_of_day': midnight ending the local day of `since`; with
    `working`, the end of that working day).
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
    when_label: str | None = None
    """The `when`'s plain-Chinese label (`when: {if: ..., label: ...}`), shown instead of the expression."""
    until: tuple[str, ...] = ()
    """A whole-item limit (`item_sla`) stops for good on reaching one of these states (a final one always)."""


@dataclass(frozen=True, slots=True)
class Parameter:
    """A per-estate parameter (`parameters:` entry): a value an overlay may set, read by
    expressions (`param('id')`) and by durations (`within: id`)."""

    name: str
    label: str
    type: str
    """integer, decimal, duration, boolean or string."""
    value: Any
    """int, Decimal, Duration, bool or str (None only in a definition that has problems)."""


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
    on_linked: tuple[LinkReaction, ...] = ()
    """What happens here when an item this one spawned reaches a state (engine/runtime/links.py)."""


@dataclass(frozen=True, slots=True)
class LinkReaction:
    """`on_linked` entry: when a spawned item of `workflow` reaches `reaches` (a state, or
    'final': any final state), the system fires `fire` on this item, in the same transaction."""

    workflow: str
    reaches: str
    fire: str


@dataclass(frozen=True, slots=True)
class NotifyAction:
    """Write an outbox row for each role, and one for the person the `user_field` names, with the
    rendered template. `roles` may be empty when `user_field` is given."""

    roles: tuple[str, ...]
    template: Template
    user_field: str | None = None
    """A `user` field: its value (a username) is told too (`notify: {user: engineer}`)."""


@dataclass(frozen=True, slots=True)
class SpawnAction:
    """Create a linked item of another workflow, copying the named fields."""

    workflow: str
    copy: tuple[str, ...] = ()
    keep_reception: bool = False
    """The new item was received when this one was (`since: received` counts from the call, review E6)."""


@dataclass(frozen=True, slots=True)
class ResidentNotifyAction:
    """`notify: {resident: FIELD, template: ID}`: text the phone in FIELD with template ID of the estate's
    published messages catalogue, if the resident's consent allows (engine/runtime/resident_messages.py)."""

    field: str
    template_id: str


@dataclass(frozen=True, slots=True)
class LinkAction:
    """`link: {workflow: notice, number: notice_ref, states: [published]}`: link this item to the item of
    `workflow` in the same estate whose number the field holds, in one of `states` (all when empty);
    refused otherwise (engine/runtime/item_refs.py)."""

    workflow: str
    number_field: str
    states: tuple[str, ...] = ()


Action = NotifyAction | SpawnAction | ResidentNotifyAction | LinkAction


@dataclass(frozen=True, slots=True)
class Countersign:
    """`countersign:` (会签): the step moves only once every listed role and every person the
    `users` fields name has fired it since the item entered the state (engine/runtime/countersign.py)."""

    roles: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    """`user` fields: the people they name must sign."""


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
    when_label: str | None = None
    """The guard's plain-Chinese label (`when: {if: ..., label: ...}`): refusals show it, never the expression."""
    require_new: tuple[str, ...] = ()
    """Fields that must be given in this very step (stored values do not count)."""
    stay: bool = False
    """Records without moving: `to` is its `from`; the state's time limits keep running (not re-armed)."""
    countersign: Countersign | None = None
    attach: tuple[str, ...] = ()
    """`file` fields the step's form offers (optional): photos taken on the way, a signed notice."""

    @property
    def system_only(self) -> bool:
        """Only the system actor (timers) may fire a transition without roles."""
        return not self.roles

    @property
    def reads_me(self) -> bool:
        """Whether the guard names the acting user (`me`): a refusal then means 不是本事项的责任人."""
        return self.when is not None and ME in self.when.names


@dataclass(frozen=True, slots=True)
class AccessRule:
    """Who sees a workflow's items (`access:`), compiled with its defaults applied.

    `see`: the roles that may see the items at all (default: every role the workflow names, the
    `personal` roles and admin). `personal`: who sees personal fields in full (default
    DEFAULT_PERSONAL). Executor roles (those with a department in roles.yaml) see only the items
    assigned to them or dispatched to their department: the item's department is the value of the
    enum field `department_field`, or the fixed `department`; at most one of the two is set.
    """

    see: frozenset[str] = frozenset()
    personal: frozenset[str] = frozenset(DEFAULT_PERSONAL)
    department_field: str | None = None
    department: str | None = None


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
    access: AccessRule = field(default_factory=AccessRule)
    """Who sees the items (`access:`, defaults applied)."""
    departments: Mapping[str, str] = field(default_factory=dict)
    """Executor role id → its department, from the role catalogue the definition was compiled against."""
    summary: str | None = None
    """The field lists show as each item's main text (`summary:`; default: the first required text field,
    else the first text field; None when there is none)."""
    item_sla: tuple[SlaRule, ...] = ()
    """Limits on the whole item (`item_sla:`): armed once at creation, kept across states, cancelled
    on reaching a final state (engine/runtime/timers.py: their rows carry rule_index -1, -2, ...)."""
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    """`parameters:` by id, with the estate's overlay values applied (engine/language/parameters.py)."""
    calendar: str | None = None
    """`calendar: <name>`: working time counts by calendars/<name>.yaml (the estate's own first), not calendar.yaml."""

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
