"""The people and places an item names: its `unit` and `user` fields, checked on the server and kept in step.

    check(session, definition, estate, values, before=) -> Parties   raises InvalidFields
    write(db, item_id, parties, current=)                            items.unit_id, items.department, item_assignees
    assignees(db, item_id)                                           field → user id
    display_names(session, usernames)                                username → display name

A `unit` field must name a unit of the item's estate; a `user` field an active member of
staff working in the estate and holding one of the field's roles there (any staff of the
estate when the field lists none). Only the values a call changes are checked (`before`
is the stored values; None for a new item), so a person disabled since they were named
does not block an unrelated step. From the checked values come the item's columns: the
unit (`items.unit_id`, the first `unit` field), the department (`items.department`: the
value of the workflow's `access.department_field`, or its fixed `access.department`) and
one `item_assignees` row per named person, which is how executors see their items and
我的待办 finds "assigned to me" in SQL.

`check` runs before the caller's first write (a refusal writes nothing); `write` after
the version-checked UPDATE (fire) or the INSERT (create, spawn), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine.access.permissions import role_labels
from engine.errors import InvalidFields
from engine.language.definition import WorkflowDefinition
from engine.store.models import Item, ItemAssignee, Unit, User, UserEstate, UserRole

__all__ = ["Parties", "assignees", "check", "display_names", "write"]

items = cast(Table, Item.__table__)
assigned = cast(Table, ItemAssignee.__table__)
NOT_STAFF = "所选人员不在本小区工作或已停用"


@dataclass(frozen=True, slots=True)
class Parties:
    """What a create or fire sets besides the data: the unit, the department, the people named (changed ones)."""

    unit_id: int | None = None
    department: str | None = None
    people: Mapping[str, int | None] = field(default_factory=dict)
    """`user` field → the user id it now names (None: emptied); only fields whose value changed."""

    def columns(self) -> dict[str, Any]:
        """The item columns these set."""
        return {"unit_id": self.unit_id, "department": self.department}


def _typed(definition: WorkflowDefinition, kind: str) -> list[str]:
    return [name for name, f in definition.fields.items() if f.type == kind]


def _changed(names: Iterable[str], values: Mapping[str, Any], before: Mapping[str, Any] | None) -> list[str]:
    return [n for n in names if before is None or values.get(n) != before.get(n)]


def _units(session: Session, estate: str, numbers: set[str]) -> dict[str, int]:
    if not numbers:
        return {}
    rows = session.execute(select(Unit.number, Unit.id).where(Unit.estate_id == estate,
                                                              Unit.number.in_(sorted(numbers))))
    return {str(number): int(unit_id) for number, unit_id in rows}


def _staff(session: Session, estate: str, usernames: set[str]) -> dict[str, tuple[int, frozenset[str]]]:
    """Username → (user id, roles held in `estate`) for the active users working in `estate`."""
    if not usernames:
        return {}
    people = {str(u): int(i) for u, i in session.execute(
        select(User.username, User.id).join(UserEstate, UserEstate.user_id == User.id)
        .where(User.username.in_(sorted(usernames)), User.active.is_(True), UserEstate.estate_id == estate))}
    held: dict[int, set[str]] = {}
    if people:
        for user_id, role in session.execute(select(UserRole.user_id, UserRole.role).where(
                UserRole.estate_id == estate, UserRole.user_id.in_(sorted(people.values())))):
            held.setdefault(int(user_id), set()).add(str(role))
    return {u: (i, frozenset(held.get(i, ()))) for u, i in people.items()}


def _department(definition: WorkflowDefinition, values: Mapping[str, Any]) -> str | None:
    access = definition.access
    if access.department_field:
        value = values.get(access.department_field)
        return str(value) if value is not None else None
    return access.department


def check(session: Session, definition: WorkflowDefinition, estate: str, values: Mapping[str, Any],
          before: Mapping[str, Any] | None = None) -> Parties:
    """Check the `unit` and `user` values that changed and work out the item's unit, department and people.

    Raises:
        InvalidFields: a unit not of this estate, or a person who does not work here, is disabled, or
            holds none of the field's roles here (the message names the roles by label).
    """
    unit_fields, user_fields = _typed(definition, "unit"), _typed(definition, "user")
    units_changed = _changed(unit_fields, values, before)
    users_changed = _changed(user_fields, values, before)
    wanted = {str(values[n]) for n in units_changed if values.get(n) is not None}
    first = values.get(unit_fields[0]) if unit_fields else None
    if first is not None:
        wanted.add(str(first))
    found = _units(session, estate, wanted)
    staff = _staff(session, estate, {str(values[n]) for n in users_changed if values.get(n) is not None})
    problems: dict[str, str] = {}
    for name in units_changed:
        number = values.get(name)
        if number is not None and str(number) not in found:
            problems[name] = f"本小区没有房号 {number}"
    people: dict[str, int | None] = {}
    labels: dict[str, str] | None = None
    for name in users_changed:
        username = values.get(name)
        if username is None:
            people[name] = None
            continue
        person = staff.get(str(username))
        roles = frozenset(definition.fields[name].roles or ())
        if person is None:
            problems[name] = NOT_STAFF
        elif roles and not person[1] & roles:
            labels = labels if labels is not None else role_labels(session)
            named = "、".join(labels.get(r, r) for r in definition.fields[name].roles)
            problems[name] = f"所选人员在本小区不是{named}"
        else:
            people[name] = person[0]
    if problems:
        raise InvalidFields(problems)
    unit_id = found.get(str(first)) if first is not None else None
    return Parties(unit_id, _department(definition, values), people)


def write(db: Connection, item_id: int, parties: Parties, current: Mapping[str, Any] | None = None) -> None:
    """Store what `check` found: the item's columns (when they differ from `current`) and its assignees."""
    columns = parties.columns()
    if current is not None:
        columns = {k: v for k, v in columns.items() if current.get(k) != v}
        if columns:
            db.execute(update(items).where(items.c.id == item_id).values(**columns))
    if parties.people:
        db.execute(delete(assigned).where(assigned.c.item_id == item_id,
                                          assigned.c.field.in_(sorted(parties.people))))
        rows = [{"item_id": item_id, "field": f, "user_id": u} for f, u in parties.people.items() if u is not None]
        if rows:
            db.execute(insert(assigned), rows)


def assignees(db: Connection, item_id: int) -> dict[str, int]:
    """The people an item's `user` fields name: field → user id."""
    rows = db.execute(select(assigned.c.field, assigned.c.user_id).where(assigned.c.item_id == item_id))
    return {str(f): int(u) for f, u in rows}


def display_names(session: Session, usernames: Iterable[Any]) -> dict[str, str]:
    """Username → display name, for pages and refusals (a login id is never shown to staff)."""
    wanted = sorted({str(u) for u in usernames if isinstance(u, str) and u})
    if not wanted:
        return {}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(wanted)))
    return {str(u): str(n) for u, n in rows}
