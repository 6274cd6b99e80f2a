"""Handing a person's open items to someone else: disabling a user, or leave with a stand-in.

    open_assignments(session, user_id) -> list[Assignment]     the user's open assigned items (per field)
    hand_over(session, actor, from_user_id, to_user_id, *, now, reason) -> HandoverReport

An item is handed over field by field: every `user` field naming the person (item_assignees)
is rewritten to name the successor, in `items.data` and in `item_assignees`, with the
version-checked UPDATE of fire() (so a clerk who had the page open gets a conflict rather
than overwriting the change) and one history event row 'handover' with the change
({field: [old, new]}), written as the acting admin (or the system). Closed items keep their
names: they record who did the work. An item of an estate the successor does not work in is
not handed over but reported (`kept`), so supervisors see it as 责任人已停用.

Runs inside the caller's transaction and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.errors import Conflict, ItemNotFound
from engine.runtime.registry import REGISTRY, Registry
from engine.store import queries
from engine.store.models import Item, ItemAssignee, User, UserEstate

__all__ = ["Assignment", "HandoverReport", "hand_over", "is_open", "open_assignments"]


@dataclass(frozen=True, slots=True)
class Assignment:
    """One `user` field of an open item naming a person."""

    item_id: int
    number: str
    estate_id: str
    workflow_id: str
    state: str
    field: str
    user_id: int


@dataclass(slots=True)
class HandoverReport:
    """What `hand_over` did: the items handed over, and those kept (the successor does not work there)."""

    handed: list[Assignment] = field(default_factory=list)
    kept: list[Assignment] = field(default_factory=list)


def is_open(session: Session, item: Item, registry: Registry = REGISTRY) -> bool:
    """Whether the item is in a state that is not final (by its own published version)."""
    definition = registry.compiled(session, item.definition_id)
    state = definition.states.get(item.state)
    return state is not None and not state.final


def open_assignments(session: Session, user_id: int, registry: Registry = REGISTRY) -> list[Assignment]:
    """Every open item a `user` field names `user_id` in, oldest item first."""
    rows = session.execute(select(Item, ItemAssignee.field).join(ItemAssignee, ItemAssignee.item_id == Item.id)
                           .where(ItemAssignee.user_id == user_id).order_by(Item.id, ItemAssignee.field)).all()
    return [Assignment(item.id, item.number, item.estate_id, item.workflow_id, item.state, name, user_id)
            for item, name in rows if is_open(session, item, registry)]


def _stored(old: Any, successor: User) -> Any:
    """The successor as the field stores people: a username (or an id, where an id was stored)."""
    return successor.id if isinstance(old, int) and not isinstance(old, bool) else successor.username


def hand_over(session: Session, actor: Actor, from_user_id: int, to_user_id: int, *, now: datetime,
              reason: str, registry: Registry = REGISTRY) -> HandoverReport:
    """Name `to_user_id` instead of `from_user_id` in each open item (see the module docstring).

    `reason` is the history row's comment (e.g. 张三停用，事项转交李四). Raises ItemNotFound
    for an unknown user, Conflict when an item changed meanwhile (the caller's transaction
    then rolls back and nothing is handed over).
    """
    successor = session.get(User, to_user_id)
    if successor is None or session.get(User, from_user_id) is None:
        raise ItemNotFound("没有这个用户", user_id=to_user_id)
    works_in = set(session.scalars(select(UserEstate.estate_id).where(UserEstate.user_id == to_user_id)))
    report = HandoverReport()
    by_item: dict[int, list[Assignment]] = {}
    for assignment in open_assignments(session, from_user_id, registry):
        if assignment.estate_id in works_in:
            by_item.setdefault(assignment.item_id, []).append(assignment)
            report.handed.append(assignment)
        else:
            report.kept.append(assignment)
    session.flush()
    db = session.connection()
    for item_id, assignments in by_item.items():
        row = queries.item_row(db, item_id)
        if row is None:
            continue
        data = dict(row.data)
        changes: dict[str, list[Any]] = {}
        for assignment in assignments:
            old = data.get(assignment.field)
            data[assignment.field] = _stored(old, successor)
            changes[assignment.field] = [old, data[assignment.field]]
        if not queries.update_item(db, item_id, row.version, {"state": row.state, "data": data,
                                                             "version": row.version + 1, "updated_at": now}):
            raise Conflict(row.version, queries.item_version(db, item_id), "事项刚被他人修改，请重试交接")
        for assignment in assignments:
            session.execute(update(ItemAssignee)
                            .where(ItemAssignee.item_id == item_id, ItemAssignee.field == assignment.field)
                            .values(user_id=to_user_id).execution_options(synchronize_session=False))
        queries.add_history(db, {
            "item_id": item_id, "kind": "event", "transition": None, "event": "handover",
            "from_state": row.state, "to_state": row.state, "actor_id": actor.user_id, "actor_name": actor.name,
            "at": now, "changes": changes, "comment": reason,
        })
    # The ORM's copies of these items and assignees (if the caller loaded any) are stale now.
    for held in list(session.identity_map.values()):
        if isinstance(held, Item | ItemAssignee) and getattr(held, "item_id", getattr(held, "id", None)) in by_item:
            session.expire(held)
    return report
