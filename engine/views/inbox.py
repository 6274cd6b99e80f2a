"""我的待办: the items the actor can act on now, those assigned to the actor first.

    inbox(session, actor, page=, per_page=, now=) -> Page

Two halves, as in engine/access/permissions.py: in SQL, the (estate, published version,
state) triples where the actor's roles *in that estate* allow some transition, limited
to the items the actor may see (engine/access/visibility.py); in Python, for candidates
read in order and in batches, whether a guard lets the actor act now
(`permissions.can_act`, the item page's rule, with `me` and `my_roles`; a countersign the actor
signed already, or has no place in, does not count: engine/views/logs.py). Items a `user`
field assigns to the actor come first (item_assignees, in SQL), then the rest; each part
nearest deadline first, no deadline last, oldest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, false, literal, or_, select
from sqlalchemy.orm import Session

from engine.access import permissions, visibility
from engine.access.actor import Actor
from engine.language import fields as fieldtypes
from engine.language.definition import WorkflowDefinition
from engine.runtime import countersign
from engine.runtime.registry import REGISTRY, Registry
from engine.views.listing import Page, assignees, base_query, items, rows_of, versions_of, visible

__all__ = ["inbox"]

_BATCH = 200


def _acting(actor: Actor, known: list[visibility.Version]) -> ColumnElement[bool]:
    """Per estate: the versions and states in which the actor's roles there allow some transition."""
    places: list[str | None] = [*sorted(actor.estates)] if actor.estates is not None else [None]
    per_estate: list[ColumnElement[bool]] = []
    for estate in places:
        placed = actor.at(estate) if estate is not None else actor
        grouped: dict[tuple[str, ...], list[int]] = {}
        for version in known:
            if estate is not None and version.estate_id not in ("", estate):
                continue
            states = permissions.states_to_act(version.definition, placed)
            if states:
                grouped.setdefault(states, []).append(version.id)
        if grouped:
            terms = or_(*(and_(items.c.definition_id.in_(ids), items.c.state.in_(states))
                          for states, ids in grouped.items()))
            per_estate.append(and_(items.c.estate_id == estate, terms) if estate is not None else terms)
    return or_(*per_estate) if per_estate else false()


def _signable(session: Session, item_id: int, state: str, definition: WorkflowDefinition, values: Any,
              now: datetime, actor: Actor) -> bool:
    """Whether something allowed here is not a countersign the actor cannot sign (signed already, or
    no place left for them): the item page closes such a step (engine/views/logs.py), so the inbox
    must not list the item for it."""
    if actor.is_system or not any(t.countersign is not None for t in definition.transitions_from(state)):
        return True
    for step in permissions.availability(definition, state, values, now, actor):
        if not step.allowed:
            continue
        signed = next((t for t in definition.transitions_from(state, step.name) if t.countersign is not None), None)
        if signed is None or countersign.open_slot(session, item_id, state, definition, signed, actor,
                                                   values)[0] is not None:
            return True
    return False


def inbox(session: Session, actor: Actor, *, page: int = 1, per_page: int = 20, now: datetime,
          registry: Registry = REGISTRY) -> Page:
    """我的待办 (see the module docstring); `Row.mine` marks the items assigned to the actor."""
    page = max(1, page)
    known = versions_of(session, registry)
    mine: ColumnElement[bool] = literal(False)
    if actor.user_id is not None:
        mine = exists(select(assignees.c.item_id).where(assignees.c.item_id == items.c.id,
                                                        assignees.c.user_id == actor.user_id))
    stmt = (base_query().add_columns(mine.label("mine"))
            .where(_acting(actor, known), *permissions.in_estates(actor, items.c.estate_id), visible(actor, known))
            .order_by(case((mine, 0), else_=1), case((items.c.deadline_at.is_(None), 1), else_=0),
                      items.c.deadline_at, items.c.id))
    skip, wanted = (page - 1) * per_page, per_page + 1
    found: list[Any] = []
    offset = 0
    while len(found) < skip + wanted:
        batch = session.execute(stmt.limit(_BATCH).offset(offset)).all()
        for record in batch:
            definition = registry.compiled(session, record.definition_id, record.content_hash)
            values = fieldtypes.decode(definition.fields, record.data)
            local = now.astimezone(ZoneInfo(record.timezone))
            placed = actor.at(record.estate_id)
            if (permissions.can_act(definition, record.state, values, local, placed)
                    and _signable(session, record.id, record.state, definition, values, local, placed)):
                found.append(record)
        if len(batch) < _BATCH:
            break
        offset += _BATCH
    shown = found[skip:skip + per_page]
    return Page(rows_of(session, shown, registry, now), page, per_page, len(found) > skip + per_page)
