"""Linking items to the unit their `unit` field names, when the unit is added after the item.

    link_items(session, estate_id, number=None) -> int   items of the estate newly linked to their unit

An item links to its unit when it is registered (engine/runtime/parties.py). Items stored
before their units existed (a site upgraded to the organisation, whose ledger of units is
imported afterwards) name a 房号 in their data but have no `unit_id`: adding the unit, or
importing a file of units, links them, so the unit page (一户一档) shows its whole history.
Which field is the unit is read from each workflow's current definition in the estate.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, distinct, exists, select, update
from sqlalchemy.orm import Session

from engine.runtime.registry import REGISTRY, Registry
from engine.store.models import Unit
from engine.store.queries import items

__all__ = ["link_items"]


def link_items(session: Session, estate_id: str, number: str | None = None, *,
               registry: Registry = REGISTRY) -> int:
    """Link the estate's unlinked items to the unit their `unit` field names (only `number`, if given).

    One UPDATE per workflow that has unlinked items in the estate; returns how many items were linked.
    """
    unlinked = and_(items.c.estate_id == estate_id, items.c.unit_id.is_(None))
    linked = 0
    for workflow_id in session.scalars(select(distinct(items.c.workflow_id)).where(unlinked)).all():
        current = registry.current(session, workflow_id, estate_id)
        names = [n for n, f in current.definition.fields.items() if f.type == "unit"] if current else []
        if not names:
            continue
        named: ColumnElement[str] = items.c.data[names[0]].as_string()  # the first unit field, as on create
        unit = select(Unit.id).where(Unit.estate_id == estate_id, Unit.number == named)
        if number is not None:
            unit = unit.where(Unit.number == number)
        result = session.execute(
            update(items).where(unlinked, items.c.workflow_id == workflow_id, exists(unit))
            .values(unit_id=unit.scalar_subquery()))
        linked += int(getattr(result, "rowcount", 0) or 0)
    return linked
