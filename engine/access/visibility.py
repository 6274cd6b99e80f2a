"""Who sees which items, and whose personal data in full (docs/organisation.md "Who sees what").

    rule_for(actor, definition, estate)              Hidden, EVERYTHING, or Limited(departments)
    sight(actor, definition, estate, department, assignees) -> Sight   one item: visible? personal in full?
    visible_clause(actor, versions, items, assignees)        the same rule as one SQL WHERE term (lists)
    personal_clause(actor, versions, items, assignees)       where personal fields may be searched
    may_search_phones(actor, definitions)                    whether a phone may be typed into a search
    searchable(definitions)                                  the fields a search reads in every item seen

The rule, in order: the estate (the actor works there), the workflow (`access.see`: a role
held in that estate admits the actor), the post (when every admitted role is an executor
role, i.e. has a department in roles.yaml, only items assigned to the actor or dispatched
to one of those departments). Personal fields are shown in full to the roles of
`access.personal` held in the estate and to anyone assigned to the item; masked for the rest.

An item the actor may not see is answered exactly like a missing one (ItemNotFound), so
whoever asks cannot tell the two apart. Lists filter in SQL with `visible_clause`, so
counts and pages agree with what the item page allows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, and_, exists, false, or_, select, true

from engine.access.actor import Actor
from engine.language.definition import WorkflowDefinition

__all__ = [
    "EVERYTHING", "HIDDEN", "Limited", "Rule", "Sight", "Version", "may_search_phones", "needs_assignees",
    "personal_clause", "personal_in_full", "rule_for", "searchable", "sight", "visible_clause",
]


@dataclass(frozen=True, slots=True)
class Limited:
    """An executor's view: only items assigned to the actor or dispatched to one of `departments`."""

    departments: frozenset[str]


HIDDEN = "hidden"
EVERYTHING = "everything"
Rule = str | Limited
"""HIDDEN, EVERYTHING or a Limited view."""


@dataclass(frozen=True, slots=True)
class Version:
    """A published definition as the list rules need it: its row id and the estate of its overlay ('' base)."""

    id: int
    estate_id: str
    definition: WorkflowDefinition


@dataclass(frozen=True, slots=True)
class Sight:
    """What one actor may see of one item."""

    visible: bool
    full: bool
    """Personal fields in full (else masked)."""
    assigned: bool = False
    """A `user` field of the item names the actor."""


def _see(definition: WorkflowDefinition) -> frozenset[str] | None:
    """The roles admitted to the workflow's items; None: no limit (a definition compiled by hand, without `access`)."""
    return definition.access.see or None


def _personal(definition: WorkflowDefinition) -> frozenset[str]:
    return definition.access.personal


def _departments(definition: WorkflowDefinition) -> dict[str, str]:
    return dict(definition.departments)


def rule_for(actor: Actor, definition: WorkflowDefinition, estate: str) -> Rule:
    """What the actor sees of `definition`'s items in `estate`, before looking at any one item."""
    if actor.is_system:
        return EVERYTHING
    if actor.estates is not None and estate not in actor.estates:
        return HIDDEN
    held = actor.roles_in(estate)
    see = _see(definition)
    admitted = held if see is None else held & see
    if see is not None and not admitted:
        return HIDDEN
    departments = _departments(definition)
    # Holding one admitted role that is not an executor's lifts the limit (a supervisor who repairs too).
    if admitted and all(role in departments for role in admitted):
        return Limited(frozenset(departments[role] for role in admitted))
    return EVERYTHING


def personal_in_full(actor: Actor, definition: WorkflowDefinition, estate: str, assigned: bool = False) -> bool:
    """Whether the actor sees `definition`'s personal fields in full in `estate` (by role, or assigned)."""
    if actor.is_system:
        return True
    return assigned or bool(actor.roles_in(estate) & _personal(definition))


def sight(actor: Actor, definition: WorkflowDefinition, estate: str, department: str | None,
          assignees: Collection[int]) -> Sight:
    """The rule for one item: its estate, workflow, department and the user ids its `user` fields name."""
    assigned = actor.user_id is not None and actor.user_id in assignees
    rule = rule_for(actor, definition, estate)
    if rule == HIDDEN:
        return Sight(False, False, assigned)
    if isinstance(rule, Limited) and not assigned and department not in rule.departments:
        return Sight(False, False, assigned)
    return Sight(True, personal_in_full(actor, definition, estate, assigned), assigned)


def needs_assignees(actor: Actor, definition: WorkflowDefinition, estate: str) -> bool:
    """Whether judging an item needs its assignees (a limited view, or personal data not seen by role)."""
    return isinstance(rule_for(actor, definition, estate), Limited) or not personal_in_full(actor, definition, estate)


def _assigned_to(actor: Actor, items: Table, assignees: Table) -> ColumnElement[bool]:
    if actor.user_id is None:
        return false()
    return exists(select(assignees.c.item_id).where(assignees.c.item_id == items.c.id,
                                                    assignees.c.user_id == actor.user_id))


def _in_estate(versions: Iterable[Version], estate: str) -> list[Version]:
    # An overlay's version only ever runs items of its own estate.
    return [v for v in versions if v.estate_id in ("", estate)]


def visible_clause(actor: Actor, versions: Iterable[Version], items: Table, assignees: Table) -> ColumnElement[bool]:
    """The WHERE term keeping the items `sight` would show: per estate, the workflows and posts admitted."""
    if actor.is_system:
        return true()
    known = list(versions)
    mine = _assigned_to(actor, items, assignees)
    per_estate: list[ColumnElement[bool]] = []
    for estate in sorted(actor.estates or ()):
        everything: list[int] = []
        limited: dict[frozenset[str], list[int]] = {}
        here = _in_estate(known, estate)
        for version in here:
            rule = rule_for(actor, version.definition, estate)
            if rule == EVERYTHING:
                everything.append(version.id)
            elif isinstance(rule, Limited):
                limited.setdefault(rule.departments, []).append(version.id)
        if len(everything) == len(here):
            # Every workflow is open to the actor here (a supervisor, a manager): the estate alone
            # decides, so the list's count reads the estate index only instead of every row.
            per_estate.append(items.c.estate_id == estate)
            continue
        terms: list[ColumnElement[bool]] = []
        if everything:
            terms.append(items.c.definition_id.in_(everything))
        for departments, ids in sorted(limited.items(), key=lambda pair: sorted(pair[0])):
            terms.append(and_(items.c.definition_id.in_(ids),
                              or_(items.c.department.in_(sorted(departments)), mine)))
        if terms:
            per_estate.append(and_(items.c.estate_id == estate, or_(*terms)))
    return or_(*per_estate) if per_estate else false()


def personal_clause(actor: Actor, versions: Iterable[Version], items: Table, assignees: Table) -> ColumnElement[bool]:
    """The WHERE term of the items whose personal fields the actor sees in full (a search may read them)."""
    if actor.is_system:
        return true()
    known = list(versions)
    per_estate: list[ColumnElement[bool]] = []
    for estate in sorted(actor.estates or ()):
        ids = [v.id for v in _in_estate(known, estate) if personal_in_full(actor, v.definition, estate)]
        if ids:
            per_estate.append(and_(items.c.estate_id == estate, items.c.definition_id.in_(ids)))
    return or_(_assigned_to(actor, items, assignees), *per_estate)


def may_search_phones(actor: Actor, definitions: Iterable[WorkflowDefinition]) -> bool:
    """Whether the actor's posts see phones in full somewhere: only then may a phone number be searched."""
    if actor.is_system:
        return True
    listed = list(definitions)
    return any(personal_in_full(actor, d, estate) for estate in actor.estates or () for d in listed)


def searchable(definitions: Iterable[WorkflowDefinition]) -> tuple[str, ...]:
    """Field names personal in no definition: a search may read them in any item the actor sees."""
    seen: dict[str, bool] = {}
    for definition in definitions:
        for name, field in definition.fields.items():
            seen[name] = seen.get(name, True) and not field.personal
    return tuple(sorted(n for n, ok in seen.items() if ok))
