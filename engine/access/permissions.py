"""Every permission rule in one place: who may register, see and fire what, now, and why not.

    works_in(actor, estate) / in_estates(actor, column)       the estates whose items an actor sees
    may_create(actor, definition, estate=)                    the create rule, as a yes or no (buttons)
    check_estate(actor, estate) / check_create(session, ...)  the same rule as a NotPermitted refusal
    permits(actor, transition) / permitted_branches(...)      the role rule of firing (fire step 3)
    availability(definition, state, values, now, actor, labels, names) -> (Availability, ...)
    acting(values, actor) / guard_refusal(...)                 guards read `me`, `my_roles`; refusals in Chinese
    form_fields(definition, state, name, actor)               what a step's form asks for (and accepts)
    states_to_act(definition, actor) / can_act(...)           我的待办's two halves: SQL first, then guards
    role_labels(session)                                      role id → Chinese label, for the reasons

The runtime (engine/runtime/items.py: create, fire, available), the read side
(engine/views: inbox, choices) and the web UI ask here; this module reads only
definitions, the actor and the store, never them. Who may *see* an item, and its
personal fields in full, is engine/access/visibility.py's.

"May fire now", one rule for the item page, 我的待办 and `available`: the actor's roles
allow a branch of the name (the system actor's always do), and that branch's guard holds
on the stored values, or can hold once the step's form is filled in. The form asks for
`Availability.asks`: the `require` fields of every branch the roles allow (web/items.py
submits exactly these). A guard reading one of them is tried over that field's possible
inputs (engine/access/guards.py): every enum option, true and false, and probe values for
numbers, dates, texts and people (the guard's own literals and the item's numbers among
them). So a guard that fails
whatever is typed (a major complaint's dispatch before it is reported up) closes the
step, and one a typed value satisfies (satisfaction in ['satisfied', 'fairly']) opens it;
fire() checks again on what was typed. Guards not reading the form's fields are judged on
the stored values, with `now` in the estate's time zone.

Guards may read the acting user: `me` (the username) and `my_roles` (the roles held in the
item's estate), added to a copy of the values (`acting`), never stored. The actor must be
placed in the item's estate (`actor.at(estate)`) before any rule here is asked. A refusal
never shows an expression: it names the fields involved by label, or, when the guard reads
`me`, says 不是本事项的责任人 and names the person in charge by display name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from engine.access import guards
from engine.access.actor import Actor
from engine.access.guards import acting, guard_refusal
from engine.errors import NotPermitted
from engine.language import fields
from engine.language.definition import DEFAULT_PERSONAL, TransitionDef, WorkflowDefinition
from engine.language.roles import Catalogue
from engine.store.models import WorkflowVersion

__all__ = [
    "Availability", "Reason", "acting", "availability", "can_act", "check_create", "check_estate",
    "create_refusal", "form_fields", "guard_refusal", "in_estates", "may_create", "permits", "permitted_branches",
    "role_labels", "states_to_act", "works_in",
    "CUSTOMER_SERVICE_ROLES", "PERSONAL_ROLES", "grantable_roles", "may_manage_estate", "may_manage_users",
    "may_read_logs", "may_add_estates", "may_author", "sees_residents",
]

# -- the organisation ---------------------------------------------------------------------------

CUSTOMER_SERVICE_ROLES = frozenset({"frontdesk", "housekeeper", "cs_supervisor", "cs_manager"})
PERSONAL_ROLES = frozenset(DEFAULT_PERSONAL)
"""Who sees residents' names and phones in full by default (a workflow's `access.personal` may differ)."""
_ADMIN = "admin"
_MANAGER = "cs_manager"
_MANAGER_MAY_NOT_GRANT = frozenset({_ADMIN, _MANAGER, "branch_leader"})
"""A cs_manager runs the staff of their estates but does not make managers or administrators."""


def may_add_estates(actor: Actor) -> bool:
    """Whether the actor may add an estate: an admin (anywhere), or the system."""
    return actor.is_system or _ADMIN in actor.roles


def may_author(actor: Actor) -> bool:
    """Whether the actor may edit, try and publish the definitions and move items to a new version: an admin.

    Definitions are shared by every estate (an overlay changes one estate, but its base is everyone's), so
    authoring is the admins' alone, never an estate manager's."""
    return actor.is_system or _ADMIN in actor.roles


def may_manage_estate(actor: Actor, estate: str) -> bool:
    """Whether the actor may change `estate`'s buildings, units and residents: its admin or cs_manager."""
    return actor.is_system or bool(actor.roles_in(estate) & {_ADMIN, _MANAGER})


def may_manage_users(actor: Actor, estate: str) -> bool:
    """Whether the actor may add staff to `estate`, give them roles there, reset or disable them."""
    return may_manage_estate(actor, estate)


def grantable_roles(actor: Actor, estate: str, catalogue: frozenset[str]) -> frozenset[str]:
    """The roles of `catalogue` the actor may give in `estate` (an admin: all; a cs_manager: not the top posts)."""
    held = actor.roles_in(estate)
    if actor.is_system or _ADMIN in held:
        return catalogue
    if _MANAGER in held:
        return catalogue - _MANAGER_MAY_NOT_GRANT
    return frozenset()


def may_read_logs(actor: Actor, estate: str | None = None) -> bool:
    """Whether the actor may read the audit and access logs (of `estate`, or of some estate)."""
    if actor.is_system:
        return True
    held = actor.roles_in(estate) if estate is not None else actor.roles
    return bool(held & {_ADMIN, _MANAGER})


def sees_residents(actor: Actor, estate: str) -> bool:
    """Whether the actor sees residents' names and phones in full in `estate` (unit pages, lookup, search)."""
    return actor.is_system or bool(actor.roles_in(estate) & PERSONAL_ROLES)

# -- estates ---------------------------------------------------------------------------------

def works_in(actor: Actor, estate: str) -> bool:
    """Whether the actor sees and acts on items of `estate` (the system actor: every estate)."""
    return actor.estates is None or estate in actor.estates


def in_estates(actor: Actor, column: ColumnElement[str]) -> tuple[ColumnElement[bool], ...]:
    """The WHERE terms limiting `column` (an estate id column) to the actor's estates; none for the system."""
    return () if actor.estates is None else (column.in_(sorted(actor.estates)),)


def check_estate(actor: Actor, estate: str) -> None:
    """Refuse (NotPermitted) an actor creating in an estate it does not work in."""
    if not works_in(actor, estate):
        raise NotPermitted(f"你不在小区 {estate} 工作", estate=estate)


# -- creating --------------------------------------------------------------------------------

def may_create(actor: Actor, definition: WorkflowDefinition, estate: str | None = None) -> bool:
    """Whether the actor may register items of `definition` in `estate` (None: in an estate of its own).

    The rule: the actor works in the estate and holds a role of `create_roles` (the system always may).
    """
    placed = works_in(actor, estate) if estate is not None else actor.estates is None or bool(actor.estates)
    return placed and (actor.is_system or not actor.roles.isdisjoint(definition.create_roles))


def create_refusal(definition: WorkflowDefinition, labels: Mapping[str, str]) -> str:
    """Who may register `definition`'s items, in plain Chinese with role labels."""
    if not definition.create_roles:
        return f"没有角色可以登记{definition.title}"
    names = "、".join(labels.get(role, role) for role in definition.create_roles)
    return f"只有{names}可以登记{definition.title}"


def check_create(session: Session, actor: Actor, definition: WorkflowDefinition, estate: str) -> None:
    """Refuse (NotPermitted) what `may_create` denies, naming the roles that may."""
    check_estate(actor, estate)
    if not may_create(actor, definition, estate):
        raise NotPermitted(create_refusal(definition, role_labels(session)),
                           roles=list(definition.create_roles), workflow=definition.id)


# -- firing: roles ---------------------------------------------------------------------------

def permits(actor: Actor, transition: TransitionDef) -> bool:
    """Whether the actor's roles allow `transition` (a transition without roles is the system's)."""
    return actor.is_system or not actor.roles.isdisjoint(transition.roles)


def permitted_branches(actor: Actor, name: str, candidates: tuple[TransitionDef, ...]) -> tuple[TransitionDef, ...]:
    """Fire's step 3: the candidates the actor's roles allow. Raises NotPermitted when none."""
    if actor.is_system:
        return candidates
    allowed = tuple(t for t in candidates if permits(actor, t))
    if not allowed:
        roles = sorted({r for t in candidates for r in t.roles})
        raise NotPermitted(f"你的角色不能执行 {name}", transition=name, roles=roles)
    return allowed


# -- firing: guards --------------------------------------------------------------------------

def _asked(branches: tuple[TransitionDef, ...]) -> tuple[str, ...]:
    # `require_new` fields are asked too: they must be typed in this very step.
    # `attach`: file fields the step offers without requiring them.
    return tuple(dict.fromkeys(n for t in branches for n in (*t.require, *t.require_new, *t.attach)))


def form_fields(definition: WorkflowDefinition, state: str, name: str, actor: Actor) -> tuple[str, ...]:
    """What the step's form asks for (`Availability.asks`): the fields the submitted data may set."""
    return _asked(tuple(t for t in definition.transitions_from(state, name) if permits(actor, t)))


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a transition cannot be fired now; `code` is the error code fire() would raise."""

    code: str
    message: str
    fields: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    """Role ids (the message names them by label)."""


@dataclass(frozen=True, slots=True)
class Availability:
    """One transition name leaving the item's state, as the actor sees it (the module docstring's rule).

    `allowed`: may fire now, perhaps once the form is filled in. `branch`: the branch
    fire() takes on the stored values (None: none holds until something is typed);
    when the actor's roles allow none, the branch it would be for whoever may.
    `needs`: that branch's `require` fields still empty. `asks`: what the step's form
    asks for. `reasons`: every obstacle in fire()'s order (role, guard, fields), so
    `reasons[0]` is the refusal fire() gives when called with no data.
    """

    name: str
    label: str
    allowed: bool
    branch: TransitionDef | None = None
    needs: tuple[str, ...] = ()
    asks: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = ()

    @property
    def to(self) -> str | None:
        """The state the chosen branch leads to (None: no branch chosen yet)."""
        return self.branch.dest if self.branch is not None else None

    @property
    def ready(self) -> bool:
        """Fires as the item stands: allowed, a branch chosen, nothing left to fill in."""
        return self.allowed and self.branch is not None and not self.needs


def _by_name(definition: WorkflowDefinition, state: str) -> Iterator[tuple[str, tuple[TransitionDef, ...]]]:
    """Each transition name leaving `state` in file order, with its branches in the order they are tried."""
    for name in dict.fromkeys(t.name for t in definition.transitions_from(state)):
        yield name, definition.transitions_from(state, name)


def _judge(definition: WorkflowDefinition, state: str, name: str, branches: tuple[TransitionDef, ...],
           values: Mapping[str, Any], now: datetime, actor: Actor, labels: Mapping[str, str],
           names: Mapping[str, str]) -> Availability:
    permitted = tuple(t for t in branches if permits(actor, t))
    # Without a permitted branch the guards are still judged, for whoever may: the page says all at once.
    considered = permitted or branches
    asks = _asked(considered)
    chosen = definition.choose(state, considered, values, now)
    opened = (chosen,) if chosen is not None else guards.opens(considered, definition, values, now, asks)
    reasons: list[Reason] = []
    if not permitted:
        roles = tuple(sorted({r for t in branches for r in t.roles}))
        text = "只能由系统自动执行" if not roles else "需要以下角色之一：" + "、".join(labels.get(r, r) for r in roles)
        reasons.append(Reason("not_permitted", text, roles=roles))
    if chosen is None and not opened:
        reasons.append(Reason("guard_failed", guard_refusal(definition, considered, values, names),
                              fields=guards.fields_read(definition, considered)))
    elif chosen is None and permitted:
        # Not a refusal on the page (the step is offered), but fire() with nothing typed fails the guard.
        reasons.append(Reason("guard_failed", guard_refusal(definition, opened, values, names, typed=True),
                              fields=guards.fields_read(definition, opened)))
    needs = tuple(dict.fromkeys((*(f for f in chosen.require if not fields.is_filled(values.get(f))),
                                 *chosen.require_new))) if chosen is not None else ()
    if needs:
        reasons.append(Reason("invalid_fields", "需要填写：" + "、".join(definition.fields[f].label for f in needs),
                              fields=needs))
    allowed = bool(permitted) and bool(opened)
    if chosen is None and allowed:
        # What is typed picks the branch: the button names every one it may be.
        label = " / ".join(dict.fromkeys(t.label for t in opened))
    else:
        label = (chosen or considered[0]).label
    return Availability(name, label, allowed, chosen, needs, _asked(permitted) if allowed else (), tuple(reasons))


def availability(definition: WorkflowDefinition, state: str, values: Mapping[str, Any], now: datetime,
                 actor: Actor, labels: Mapping[str, str] | None = None,
                 names: Mapping[str, str] | None = None) -> tuple[Availability, ...]:
    """Every transition name leaving `state`, in file order: allowed, or the reasons it is not.

    `values` are the item's stored field values, `now` is aware in the estate's time zone,
    `actor` is placed in the item's estate, `labels` names roles in the reasons
    (role_labels(session); ids without it), `names` the people `user` fields name
    (username → display name) in a refusal for not being the person in charge.
    """
    judged = acting(values, actor)
    return tuple(_judge(definition, state, name, branches, judged, now, actor, labels or {}, names or {})
                 for name, branches in _by_name(definition, state))


# -- 我的待办 ------------------------------------------------------------------------------------

def states_to_act(definition: WorkflowDefinition, actor: Actor) -> tuple[str, ...]:
    """The states in which the actor's roles allow some transition: the inbox's SQL half."""
    return tuple(s for s in definition.states if any(permits(actor, t) for t in definition.transitions_from(s)))


def can_act(definition: WorkflowDefinition, state: str, values: Mapping[str, Any], now: datetime,
            actor: Actor) -> bool:
    """Whether `availability` allows some transition here: the inbox's Python half, without the reasons."""
    values = acting(values, actor)
    for _name, branches in _by_name(definition, state):
        permitted = tuple(t for t in branches if permits(actor, t))
        if permitted and (definition.choose(state, permitted, values, now) is not None
                          or guards.opens(permitted, definition, values, now, _asked(permitted))):
            return True
    return False


def role_labels(session: Session) -> dict[str, str]:
    """Role id → Chinese label, from the catalogue stored with the newest published version."""
    stmt = select(WorkflowVersion.roles).order_by(WorkflowVersion.id.desc()).limit(1)
    roles = session.scalars(stmt).first()
    return dict(Catalogue.of(roles or {}).labels)
