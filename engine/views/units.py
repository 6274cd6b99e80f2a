"""The unit page (一户一档) and the front desk's caller lookup: read sides of engine/org.

    unit_record(session, actor, unit_id, *, now) -> UnitRecord    the unit, residents, history, every item
    lookup(session, actor, q, *, estate=None, now) -> list[CallerMatch]   by phone or 房号: open and recent items
    unit_items(session, actor, unit_ids, *, now) -> dict[unit id, list[UnitItem]]   items as the actor sees them

Residents are shown in full only where `permissions.sees_residents`; the history's personal
values (residents' names and phones) are masked for the others. Items are those of the unit
(items.unit_id), every workflow, newest first, limited to what the actor may see by
engine/access/visibility.py's SQL term, so the page never lists an item the item page would
refuse. Showing residents in full writes an access_log row (kind 'view', or 'lookup'), so the
caller commits the session afterwards, as for any page that logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine.access import permissions, visibility
from engine.access.actor import Actor
from engine.clock import DEFAULT_TIMEZONE
from engine.errors import ItemNotFound
from engine.language import fields as fieldtypes
from engine.org import audit, values
from engine.org.estates import ResidentView, UnitHit, find_units, resident_view
from engine.runtime.registry import REGISTRY, Registry
from engine.store.models import AuditLog, Building, Estate, Item, ItemAssignee, Resident, Unit, WorkflowVersion
from engine.views.listing import summary_text

__all__ = [
    "CallerMatch", "HistoryEntry", "UnitItem", "UnitRecord", "building_label", "lookup", "unit_items", "unit_record",
]

_ZONE = ZoneInfo(DEFAULT_TIMEZONE)
"""A summary is a text: the zone only formats a date, should a site pick one."""

def building_label(name: str | None) -> str:
    """A building as staff say it: 3 → 3栋; 3栋, A座, 1号楼 stay as they are (pages, reports, exports)."""
    if not name:
        return ""
    return name if name.endswith(("栋", "座", "楼", "幢")) else f"{name}栋"


RECENT_CLOSED = 3
"""Closed items the caller pop-up shows per unit (the last ones)."""
_PERSONAL_KEYS = {"name": values.mask_name, "phone": values.mask_phone}


@dataclass(frozen=True, slots=True)
class UnitItem:
    """One item of a unit, for a list: its number, workflow, state and lateness."""

    item_id: int
    number: str
    workflow_id: str
    workflow_title: str
    state: str
    state_label: str
    closed: bool
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime | None
    overdue: bool
    """An escalation of the current state has fired (engine/runtime/timers.py)."""
    late: bool
    """Open and past its deadline now (overdue, or about to be marked so by the next tick)."""
    summary: str = ""
    """The item's main text (the workflow's `summary` field, as lists show it: engine/views/listing.py)."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change to the unit or its residents: who, when, what (field → [old, new], masked as needed)."""

    at: datetime
    actor_name: str
    target: str
    action: str
    changes: dict[str, list[Any]]


@dataclass(frozen=True, slots=True)
class UnitRecord:
    """The unit page: the record, its residents (current and past), history and items."""

    unit_id: int
    estate_id: str
    estate_name: str
    building: str
    number: str
    area_m2: Decimal | None
    tags: tuple[str, ...]
    residents: tuple[ResidentView, ...]
    residents_masked: bool
    history: tuple[HistoryEntry, ...]
    items: tuple[UnitItem, ...]


@dataclass(frozen=True, slots=True)
class CallerMatch:
    """One unit the caller may be calling about: the record, its open items and its last closed ones."""

    unit: UnitHit
    open_items: tuple[UnitItem, ...]
    recent_closed: tuple[UnitItem, ...]


def _versions(session: Session, ids: Iterable[int], registry: Registry) -> dict[int, visibility.Version]:
    rows = session.execute(select(WorkflowVersion.id, WorkflowVersion.estate_id, WorkflowVersion.content_hash)
                           .where(WorkflowVersion.id.in_(sorted(set(ids)))))
    return {r.id: visibility.Version(r.id, r.estate_id, registry.compiled(session, r.id, r.content_hash))
            for r in rows}


def unit_items(session: Session, actor: Actor, unit_ids: Iterable[int], *, now: datetime,
               registry: Registry = REGISTRY) -> dict[int, list[UnitItem]]:
    """The items of each unit the actor may see, every workflow, newest first."""
    wanted = sorted(set(unit_ids))
    used = session.scalars(select(Item.definition_id).where(Item.unit_id.in_(wanted)).distinct())
    versions = _versions(session, used, registry)
    clause = visibility.visible_clause(actor, versions.values(), cast(Table, Item.__table__),
                                       cast(Table, ItemAssignee.__table__))
    rows = session.scalars(select(Item).where(Item.unit_id.in_(wanted), clause)
                           .order_by(Item.created_at.desc(), Item.id.desc()))
    found: dict[int, list[UnitItem]] = {u: [] for u in wanted}
    for item in rows:
        definition = versions[item.definition_id].definition
        state = definition.states.get(item.state)
        closed = state is not None and state.final
        late = not closed and item.deadline_at is not None and item.deadline_at <= now
        found.setdefault(item.unit_id or 0, []).append(UnitItem(
            item.id, item.number, item.workflow_id, definition.title, item.state,
            state.label if state is not None else item.state, closed, item.created_at, item.updated_at,
            item.deadline_at, item.overdue, late or (item.overdue and not closed),
            summary_text(definition, fieldtypes.decode(definition.fields, item.data), _ZONE)))
    return found


def _masked(changes: dict[str, Any]) -> dict[str, list[Any]]:
    shown: dict[str, list[Any]] = {}
    for key, pair in changes.items():
        hide = _PERSONAL_KEYS.get(key)
        old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        shown[key] = [hide(old), hide(new)] if hide is not None else [old, new]
    return shown


def unit_record(session: Session, actor: Actor, unit_id: int, *, now: datetime, history: int = 100,
                registry: Registry = REGISTRY) -> UnitRecord:
    """The unit page for the actor (see the module docstring). Raises ItemNotFound for a unit of an estate
    the actor does not work in, as for a missing one."""
    unit = session.get(Unit, unit_id)
    if unit is None or not permissions.works_in(actor, unit.estate_id):
        raise ItemNotFound("没有这个房号", unit_id=unit_id)
    estate = session.get_one(Estate, unit.estate_id)
    building = session.get_one(Building, unit.building_id)
    full = permissions.sees_residents(actor, unit.estate_id)
    people = session.scalars(select(Resident).where(Resident.unit_id == unit.id)
                             .order_by(Resident.moved_out_on.is_not(None), Resident.kind, Resident.id)).all()
    rows = session.scalars(select(AuditLog).where(AuditLog.unit_id == unit.id)
                           .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(history))
    entries = tuple(HistoryEntry(r.at, r.actor_name, r.target, r.action,
                                 {k: list(v) if isinstance(v, list) else [None, v] for k, v in r.changes.items()}
                                 if full or r.target != "resident" else _masked(dict(r.changes))) for r in rows)
    items = unit_items(session, actor, [unit.id], now=now, registry=registry)[unit.id]
    if full and any(p.anonymised_at is None for p in people):
        audit.accessed(session, actor, "view", estate_id=unit.estate_id, unit_id=unit.id,
                       detail=f"一户一档 {unit.number}：住户姓名和电话")
    return UnitRecord(unit.id, unit.estate_id, estate.name, building.name, unit.number, unit.area_m2,
                      tuple(unit.tags or ()), tuple(resident_view(p, full) for p in people), not full, entries,
                      tuple(items))


def lookup(session: Session, actor: Actor, q: str, *, estate: str | None = None, now: datetime, limit: int = 5,
           registry: Registry = REGISTRY) -> list[CallerMatch]:
    """The caller pop-up: units matching a phone or 房号 (or a resident's name), each with its open items and
    its last three closed ones. A phone typed by someone who may not see phones raises NotPermitted."""
    hits = find_units(session, actor, q, estate=estate, limit=limit, today=now.date())
    per_unit = unit_items(session, actor, [h.unit_id for h in hits], now=now, registry=registry)
    matches = []
    for hit in hits:
        items = per_unit.get(hit.unit_id, [])
        matches.append(CallerMatch(hit, tuple(i for i in items if not i.closed),
                                   tuple(i for i in items if i.closed)[:RECENT_CLOSED]))
        if not hit.masked and hit.residents:
            audit.accessed(session, actor, "lookup", estate_id=hit.estate_id, unit_id=hit.unit_id,
                           detail=f"来电查询 {hit.number}：住户姓名和电话")
    return matches
