"""Read-side queries for the staff UI: lists, 我的待办, counts, what a user may fire.

    list_items(session, actor, filters, page=, per_page=, now=)  -> Page
    inbox(session, actor, page=, per_page=, now=)                -> Page (most urgent first)
    state_counts(session, actor, workflow_id)                    -> {state: count}
    linked(session, item, actor, now=)                           -> [Row]
    choices(session, item, actor, now=)                          -> [Choice]

Every function takes the caller's Session and never commits; every query is
limited to the actor's estates, so another estate's items never leave here.
Who may see and fire what is engine/access/permissions.py's answer (the estate
condition, the inbox's two halves, the item page's choices); nothing is decided here.
Field values are decoded with the item's own published definition (through the
registry) and personal fields are masked in rows (lists), not in item pages.
This module never imports flask: the web layer only renders what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, Table, and_, case, func, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.access.permissions import role_labels
from engine.clock import DEFAULT_TIMEZONE
from engine.errors import ItemNotFound
from engine.language import fields as fieldtypes
from engine.language.definition import WorkflowDefinition
from engine.runtime.items import ItemView
from engine.runtime.registry import REGISTRY, Registry
from engine.store.models import Estate, Item, ItemHistory, ItemLink, WorkflowVersion

__all__ = [
    "DUE_SOON", "Choice", "Filters", "Page", "Row", "choices", "create_fields", "estates_of", "inbox", "linked",
    "item_place", "list_columns", "list_items", "published", "role_labels", "state_counts",
]

DUE_SOON = timedelta(hours=4)
"""An item whose deadline is this close is marked 即将到期 (a front-desk shift's horizon)."""
MAX_COLUMNS = 4
_INBOX_BATCH = 200

items = cast(Table, Item.__table__)
versions = cast(Table, WorkflowVersion.__table__)
estates = cast(Table, Estate.__table__)
history = cast(Table, ItemHistory.__table__)
links = cast(Table, ItemLink.__table__)


@dataclass(frozen=True, slots=True)
class Filters:
    """What a list is narrowed to; every part is optional."""

    workflow: str | None = None
    state: str | None = None
    estate: str | None = None
    overdue: bool = False
    date_from: date | None = None
    date_to: date | None = None
    """Creation dates, inclusive, in the estate's local time (Asia/Shanghai by default)."""
    q: str | None = None
    """Searched in the number and in every field value (unit, text, phone...)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One item as a list shows it: personal fields masked."""

    id: int
    number: str
    workflow_id: str
    title: str
    state: str
    state_label: str
    final: bool
    estate_id: str
    estate_name: str
    timezone: str
    created_at: datetime
    deadline_at: datetime | None
    overdue: bool
    due_soon: bool
    columns: tuple[tuple[str, str], ...]
    """(label, displayed value) of the workflow's list columns."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows; `total` is None where counting would mean reading every row."""

    rows: list[Row]
    page: int
    per_page: int
    has_next: bool
    total: int | None = None

    @property
    def pages(self) -> int | None:
        """How many pages there are (None when the total is unknown)."""
        return None if self.total is None else max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class Choice:
    """One transition name leaving the item's state, as the item page offers it.

    `fireable`: permissions.Availability.allowed (the actor's roles allow a branch whose
    guard holds, or can hold with what the form asks for; the engine checks again).
    `fields` is what the form asks for; `reasons` say why not, roles by their labels.
    """

    name: str
    label: str
    fireable: bool
    fields: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default_factory=tuple)


def create_fields(definition: WorkflowDefinition) -> tuple[str, ...]:
    """The fields a create form asks for: required ones, and those no later step fills in.

    Fields a transition requires or sets (feedback, revisit result...), or a later
    state's timer reads, stay off the intake form.
    """
    later = {n for t in definition.transitions for n in t.require} | {
        a.field for t in definition.transitions for a in t.set}
    # A timer's "at" field on a later state (resume at...) is filled when the item gets there.
    later |= {timer.at for state in definition.states.values() if not state.initial
              for timer in getattr(state, "timers", ()) if getattr(timer, "at", None)}
    return tuple(n for n, f in definition.fields.items() if f.required or n not in later)


def list_columns(definition: WorkflowDefinition) -> tuple[str, ...]:
    """The fields a list shows: the first short intake fields (long texts stay on the item page)."""
    short = [n for n in create_fields(definition) if definition.fields[n].type != "text"]
    return tuple(short[:MAX_COLUMNS])


def published(session: Session, actor: Actor, registry: Registry = REGISTRY) -> list[WorkflowDefinition]:
    """The current definition of every published workflow, for the actor's first estate."""
    estate = min(actor.estates) if actor.estates else ""
    ids = session.scalars(select(versions.c.workflow_id).distinct().order_by(versions.c.workflow_id)).all()
    found = (registry.current(session, wid, estate) for wid in ids)
    return [c.definition for c in found if c is not None]


def _base() -> Select[Any]:
    return (
        select(items.c.id, items.c.number, items.c.workflow_id, items.c.state, items.c.estate_id, items.c.data,
               items.c.created_at, items.c.deadline_at, items.c.overdue, items.c.definition_id,
               versions.c.content_hash, estates.c.name.label("estate_name"), estates.c.timezone)
        .join(versions, versions.c.id == items.c.definition_id)
        .join(estates, estates.c.id == items.c.estate_id)
    )


def _in_estates(actor: Actor) -> list[Any]:
    return list(permissions.in_estates(actor, items.c.estate_id))


def _day_start(day: date, tz: str) -> datetime:
    return datetime.combine(day, time.min, ZoneInfo(tz))


def _conditions(actor: Actor, filters: Filters, now: datetime, tz: str) -> list[Any]:
    """WHERE terms on the items table only, so the count needs no join."""
    where = _in_estates(actor)
    if filters.workflow:
        where.append(items.c.workflow_id == filters.workflow)
    if filters.state:
        where.append(items.c.state == filters.state)
    if filters.estate:
        where.append(items.c.estate_id == filters.estate)
    if filters.overdue:
        where.append(or_(items.c.overdue.is_(True), items.c.deadline_at < now))
    if filters.date_from:
        where.append(items.c.created_at >= _day_start(filters.date_from, tz))
    if filters.date_to:
        where.append(items.c.created_at < _day_start(filters.date_to + timedelta(days=1), tz))
    if filters.q and filters.q.strip():
        # LIKE wildcards typed by a user are matched literally.
        text = filters.q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{text}%"
        where.append(or_(items.c.number.ilike(pattern, escape="\\"),
                         sql_cast(items.c.data, String).ilike(pattern, escape="\\")))
    return where


def _row(record: Any, session: Session, registry: Registry, now: datetime) -> Row:
    definition = registry.compiled(session, record.definition_id, record.content_hash)
    values = fieldtypes.decode(definition.fields, record.data)
    tz = ZoneInfo(record.timezone)
    columns = tuple(
        (definition.fields[n].label, fieldtypes.display(definition.fields[n], values.get(n), tz))
        for n in list_columns(definition)
    )
    state = definition.states.get(record.state)
    deadline = record.deadline_at
    overdue = bool(record.overdue) or (deadline is not None and deadline < now)
    return Row(
        id=record.id, number=record.number, workflow_id=record.workflow_id, title=definition.title,
        state=record.state, state_label=state.label if state else record.state, final=bool(state and state.final),
        estate_id=record.estate_id, estate_name=record.estate_name, timezone=record.timezone,
        created_at=record.created_at, deadline_at=deadline, overdue=overdue,
        due_soon=not overdue and deadline is not None and deadline - now <= DUE_SOON, columns=columns,
    )


def list_items(session: Session, actor: Actor, filters: Filters, *, page: int = 1, per_page: int = 20,
               now: datetime, tz: str = DEFAULT_TIMEZONE, registry: Registry = REGISTRY) -> Page:
    """One page of the actor's items matching `filters`, newest first, with the total count."""
    page = max(1, page)
    where = _conditions(actor, filters, now, tz)
    count = int(session.execute(select(func.count()).select_from(items).where(*where)).scalar_one())
    records = session.execute(_base().where(*where).order_by(items.c.id.desc())
                              .limit(per_page).offset((page - 1) * per_page))
    rows = [_row(r, session, registry, now) for r in records]
    return Page(rows, page, per_page, page * per_page < count, count)


def _fireable_pairs(session: Session, actor: Actor, registry: Registry) -> dict[int, tuple[str, ...]]:
    """Per published version id: the states in which the actor's roles allow some transition."""
    pairs: dict[int, tuple[str, ...]] = {}
    for version_id, digest in session.execute(select(versions.c.id, versions.c.content_hash)):
        states = permissions.states_to_act(registry.compiled(session, version_id, digest), actor)
        if states:
            pairs[version_id] = states
    return pairs


def inbox(session: Session, actor: Actor, *, page: int = 1, per_page: int = 20, now: datetime,
          registry: Registry = REGISTRY) -> Page:
    """我的待办: items the actor can act on now, nearest deadline first (no deadline last, oldest first).

    Roles and states are matched in SQL (permissions.states_to_act); guards need the
    values, so candidates are read in order in batches and checked with
    permissions.can_act (the item page's rule) until the page is full.
    """
    page = max(1, page)
    pairs = _fireable_pairs(session, actor, registry)
    if not pairs:
        return Page([], page, per_page, False, 0)
    where = or_(*(and_(items.c.definition_id == d, items.c.state.in_(states)) for d, states in pairs.items()))
    stmt = _base().where(where, *_in_estates(actor)).order_by(
        case((items.c.deadline_at.is_(None), 1), else_=0), items.c.deadline_at, items.c.id)
    skip, wanted = (page - 1) * per_page, per_page + 1
    found: list[Any] = []
    offset = 0
    while len(found) < skip + wanted:
        batch = session.execute(stmt.limit(_INBOX_BATCH).offset(offset)).all()
        for record in batch:
            definition = registry.compiled(session, record.definition_id, record.content_hash)
            values = fieldtypes.decode(definition.fields, record.data)
            local = now.astimezone(ZoneInfo(record.timezone))
            if permissions.can_act(definition, record.state, values, local, actor):
                found.append(record)
        if len(batch) < _INBOX_BATCH:
            break
        offset += _INBOX_BATCH
    shown = found[skip:skip + per_page]
    rows = [_row(r, session, registry, now) for r in shown]
    return Page(rows, page, per_page, len(found) > skip + per_page)


def state_counts(session: Session, actor: Actor, workflow_id: str) -> dict[str, int]:
    """How many of the actor's items of a workflow are in each state."""
    stmt = (select(items.c.state, func.count())
            .where(items.c.workflow_id == workflow_id, *permissions.in_estates(actor, items.c.estate_id))
            .group_by(items.c.state))
    return {state: int(n) for state, n in session.execute(stmt)}


def item_place(session: Session, item: ItemView) -> tuple[str, str]:
    """The item's estate name and time zone."""
    row = session.execute(select(estates.c.name, estates.c.timezone).where(estates.c.id == item.estate_id)).one()
    return row.name, row.timezone


def linked(session: Session, item: ItemView, actor: Actor, *, now: datetime,
           registry: Registry = REGISTRY) -> list[tuple[str, Row]]:
    """Items linked to this one (spawned, spawned from) that the actor may see, with the link kind."""
    # Links first (by primary key), then their items: joining the other way scans items.
    pairs = session.execute(select(links.c.to_item_id, links.c.kind).where(links.c.from_item_id == item.id))
    kinds: dict[int, str] = {int(r.to_item_id): str(r.kind) for r in pairs}
    if not kinds:
        return []
    stmt = _base().where(items.c.id.in_(list(kinds)), *_in_estates(actor)).order_by(items.c.id)
    return [(kinds[r.id], _row(r, session, registry, now)) for r in session.execute(stmt)]


def choices(session: Session, item: ItemView, actor: Actor, *, now: datetime,
            registry: Registry = REGISTRY) -> list[Choice]:
    """Every transition name leaving the item's state: fireable (with its form fields) or why not.

    permissions.availability decides, on the item's stored values at `now` in its
    estate's time zone; reasons name roles by their Chinese labels.
    """
    if not permissions.works_in(actor, item.estate_id):
        raise ItemNotFound(f"没有这个工单 (item {item.id})", item_id=item.id)
    definition = registry.compiled(session, item.definition_id)
    local = now.astimezone(ZoneInfo(item_place(session, item)[1]))
    result = []
    for a in permissions.availability(definition, item.state, item.values, local, actor, role_labels(session)):
        if a.allowed:
            result.append(Choice(a.name, a.label, True, a.asks))
        else:
            result.append(Choice(a.name, a.label, False, (), tuple(r.message for r in a.reasons) or ("条件不满足",)))
    return result


def estates_of(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """(id, name) of the estates the actor works in, by name."""
    stmt = select(estates.c.id, estates.c.name).where(*permissions.in_estates(actor, estates.c.id))
    stmt = stmt.order_by(estates.c.name)
    return [(r.id, r.name) for r in session.execute(stmt)]
