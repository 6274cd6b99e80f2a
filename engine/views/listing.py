"""Read-side queries for the staff UI: lists, counts, what a user may fire, how values read.

    list_items(session, actor, filters, page=, per_page=, now=)  -> Page (refuses a phone search: NotPermitted)
    state_counts(session, actor, workflow_id)                    -> {state: count}
    linked(session, item, actor, now=)                           -> [Row]
    choices(session, item, actor, now=)                          -> [Choice]
    shown(field, value, tz, names, full=)                        a value as a page shows it
    versions_of(session) / visible(actor, versions)              every published version; the SQL rule

我的待办 is engine/views/inbox.py. Every function takes the caller's Session and never
commits; every query carries engine/access/visibility.py's WHERE term (the estate, the
workflow's `access.see`, executors' posts), so an item the item page would refuse never
leaves here, and counts and pages agree with it. Who may fire what is
engine/access/permissions.py's answer, asked of the actor placed in the item's estate.
Field values are decoded with the item's own published definition (through the
registry); personal fields are masked in rows (lists, links), whoever looks, and a
`user` field reads as the person's display name, never a login id.
This module never imports flask: the web layer only renders what it returns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, Table, func, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from engine.access import branches, permissions, visibility
from engine.access.actor import Actor
from engine.access.permissions import role_labels
from engine.clock import DEFAULT_TIMEZONE
from engine.errors import ItemNotFound, NotPermitted
from engine.language import fields as fieldtypes
from engine.language.definition import FieldDef, WorkflowDefinition
from engine.runtime.items import ItemView
from engine.runtime.parties import display_names
from engine.runtime.registry import REGISTRY, Registry
from engine.store.models import Estate, Item, ItemAssignee, ItemHistory, ItemLink, WorkflowVersion
from engine.views.logs import countersign_choices

__all__ = [
    "DUE_SOON", "NO_PHONE_SEARCH", "PEOPLE", "Choice", "Filters", "Page", "Row", "base_query", "choices",
    "create_fields",
    "estates_of", "item_place", "linked", "list_columns", "list_items", "published", "role_labels", "rows_of",
    "shown", "state_counts", "summary_text", "versions_of", "visible",
]

DUE_SOON = timedelta(hours=4)
"""An item whose deadline is this close is marked 即将到期 (a front-desk shift's horizon)."""
MAX_COLUMNS = 4
SUMMARY_LENGTH = 60
"""A list row's main text is cut to this many characters (the item page shows it whole)."""
PEOPLE = "责任人"
"""The list column naming the people an item's `user` fields name."""
NO_PHONE_SEARCH = "您的岗位不能按电话号码查找事项"
UNKNOWN_PERSON = "（未知人员）"
_PHONE_LIKE = re.compile(r"^\+?[0-9][0-9 ()（）-]{5,}$")

items = cast(Table, Item.__table__)
versions = cast(Table, WorkflowVersion.__table__)
estates = cast(Table, Estate.__table__)
history = cast(Table, ItemHistory.__table__)
links = cast(Table, ItemLink.__table__)
assignees = cast(Table, ItemAssignee.__table__)


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
    """Searched in the number and in field values (personal ones only where the actor sees them in full)."""
    unit_id: int | None = None
    """The items of one unit (一户一档)."""


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
    """(label, displayed value) of the workflow's list columns, then 责任人 when a `user` field names someone."""
    mine: bool = False
    """Assigned to the actor (a `user` field names them): 我的待办 lists these first."""
    summary: str = ""
    """The item's main text (the workflow's `summary` field), cut to SUMMARY_LENGTH; masked if personal."""


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
    `fields` is what the form asks for, `required` those marked required; `reasons` say why
    not, roles by their labels. A name with several branches the actor may fire is one
    Choice per branch offered (engine/access/branches.py), each with its own label and
    `branch` (its index in `transitions`), which the form sends back so that exactly that
    branch fires.
    """

    name: str
    label: str
    fireable: bool
    fields: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default_factory=tuple)
    required: tuple[str, ...] = ()
    branch: int | None = None
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Enum fields whose options this branch narrows (branches.Offer.options): the ids it can fire with."""

    @property
    def key(self) -> str:
        """Tells the forms of one page apart: the name, and the branch when one is chosen."""
        return self.name if self.branch is None else f"{self.name}-{self.branch}"


def create_fields(definition: WorkflowDefinition) -> tuple[str, ...]:
    """The fields a create form asks for: required ones, and those no later step fills in.

    Fields a transition requires or sets (feedback, revisit result...), or a later
    state's timer reads, stay off the intake form.
    """
    later = {n for t in definition.transitions for n in (*t.require, *t.require_new, *t.attach)} | {
        a.field for t in definition.transitions for a in t.set}
    # A timer's "at" field on a later state (resume at...) is filled when the item gets there.
    later |= {timer.at for state in definition.states.values() if not state.initial
              for timer in getattr(state, "timers", ()) if getattr(timer, "at", None)}
    return tuple(n for n, f in definition.fields.items() if f.required or n not in later)


def list_columns(definition: WorkflowDefinition) -> tuple[str, ...]:
    """The fields a list shows: the first short intake fields (long texts stay on the item page), besides
    the summary, which has a line of its own."""
    short = [n for n in create_fields(definition)
             if definition.fields[n].type not in ("text", "log") and n != definition.summary]
    return tuple(short[:MAX_COLUMNS])


def summary_text(definition: WorkflowDefinition, values: dict[str, Any], tz: ZoneInfo) -> str:
    """The item's main text as a list shows it: one line, at most SUMMARY_LENGTH characters, masked if personal."""
    name = definition.summary
    field_def = definition.fields.get(name) if name else None
    if field_def is None or values.get(field_def.name) is None:
        return ""
    text = " ".join(shown(field_def, values[field_def.name], tz, {}).split())
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"


def published(session: Session, actor: Actor, registry: Registry = REGISTRY) -> list[WorkflowDefinition]:
    """The current definition of every published workflow whose items the actor sees somewhere,
    for the actor's first estate (finance is not offered complaints)."""
    estate = min(actor.estates) if actor.estates else ""
    ids = session.scalars(select(versions.c.workflow_id).distinct().order_by(versions.c.workflow_id)).all()
    found = [c.definition for c in (registry.current(session, wid, estate) for wid in ids) if c is not None]
    places = sorted(actor.estates) if actor.estates is not None else [estate]
    return [d for d in found if any(visibility.rule_for(actor, d, e) != visibility.HIDDEN for e in places)]


def versions_of(session: Session, registry: Registry = REGISTRY) -> list[visibility.Version]:
    """Every published version, compiled (cached by the registry): what the visibility rule is built from."""
    rows = session.execute(select(versions.c.id, versions.c.estate_id, versions.c.content_hash)
                           .order_by(versions.c.id))
    return [visibility.Version(r.id, r.estate_id, registry.compiled(session, r.id, r.content_hash)) for r in rows]


def visible(actor: Actor, known: list[visibility.Version]) -> ColumnElement[bool]:
    """The WHERE term of the items the actor may see (engine/access/visibility.py)."""
    return visibility.visible_clause(actor, known, items, assignees)


def base_query() -> Select[Any]:
    return (
        select(items.c.id, items.c.number, items.c.workflow_id, items.c.state, items.c.estate_id, items.c.data,
               items.c.created_at, items.c.deadline_at, items.c.overdue, items.c.definition_id,
               versions.c.content_hash, estates.c.name.label("estate_name"), estates.c.timezone)
        .join(versions, versions.c.id == items.c.definition_id)
        .join(estates, estates.c.id == items.c.estate_id)
    )


def _day_start(day: date, tz: str) -> datetime:
    return datetime.combine(day, time.min, ZoneInfo(tz))


def _phone_like(text: str) -> bool:
    return bool(_PHONE_LIKE.match(text)) and sum(c.isdigit() for c in text) >= 7


def _search(actor: Actor, text: str, known: list[visibility.Version]) -> ColumnElement[bool]:
    """`text` in the number or a field value; personal values only of items the actor sees them in full in."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    everywhere = sql_cast(items.c.data, String).ilike(pattern, escape="\\")
    personal = visibility.personal_clause(actor, known, items, assignees)
    # Elsewhere only the fields personal in no workflow are read, so a search cannot probe a masked phone.
    plain = [items.c.data[name].as_string().ilike(pattern, escape="\\")
             for name in visibility.searchable(v.definition for v in known)]
    return or_(items.c.number.ilike(pattern, escape="\\"), personal & everywhere, *plain)


def _conditions(actor: Actor, filters: Filters, now: datetime, tz: str,
                known: list[visibility.Version]) -> list[Any]:
    """WHERE terms on the items table only (and its assignees), so the count needs no join."""
    where: list[Any] = [*permissions.in_estates(actor, items.c.estate_id), visible(actor, known)]
    if filters.unit_id is not None:
        where.append(items.c.unit_id == filters.unit_id)
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
        where.append(_search(actor, filters.q.strip(), known))
    return where


def shown(field: FieldDef, value: Any, tz: ZoneInfo | None, names: dict[str, str], *, full: bool = False) -> str:
    """A value as pages show it: a person by display name, personal data masked unless `full`."""
    if value is None:
        return ""
    if field.type == "user":
        return names.get(str(value), UNKNOWN_PERSON)
    return fieldtypes.display(replace(field, personal=False) if full else field, value, tz)


def _people(definition: WorkflowDefinition, values: dict[str, Any]) -> list[str]:
    return [str(values[n]) for n, f in definition.fields.items() if f.type == "user" and values.get(n)]


def rows_of(session: Session, records: list[Any], registry: Registry, now: datetime) -> list[Row]:
    """List rows of `records` (selected by `base_query()`), with one query for the people they name."""
    decoded = []
    for record in records:
        definition = registry.compiled(session, record.definition_id, record.content_hash)
        decoded.append((record, definition, fieldtypes.decode(definition.fields, record.data)))
    names = display_names(session, (u for _, d, v in decoded for u in _people(d, v)))
    return [_row(record, definition, values, names, now) for record, definition, values in decoded]


def _row(record: Any, definition: WorkflowDefinition, values: dict[str, Any], names: dict[str, str],
         now: datetime) -> Row:
    tz = ZoneInfo(record.timezone)
    columns = tuple(
        (definition.fields[n].label, shown(definition.fields[n], values.get(n), tz, names))
        for n in list_columns(definition)
    )
    people = [names.get(u, UNKNOWN_PERSON) for u in _people(definition, values)]
    if people:
        columns += ((PEOPLE, "、".join(dict.fromkeys(people))),)
    state = definition.states.get(record.state)
    deadline = record.deadline_at
    overdue = bool(record.overdue) or (deadline is not None and deadline < now)
    return Row(
        id=record.id, number=record.number, workflow_id=record.workflow_id, title=definition.title,
        state=record.state, state_label=state.label if state else record.state, final=bool(state and state.final),
        estate_id=record.estate_id, estate_name=record.estate_name, timezone=record.timezone,
        created_at=record.created_at, deadline_at=deadline, overdue=overdue,
        due_soon=not overdue and deadline is not None and deadline - now <= DUE_SOON, columns=columns,
        mine=bool(getattr(record, "mine", False)), summary=summary_text(definition, values, tz),
    )


def list_items(session: Session, actor: Actor, filters: Filters, *, page: int = 1, per_page: int = 20,
               now: datetime, tz: str = DEFAULT_TIMEZONE, registry: Registry = REGISTRY) -> Page:
    """One page of the items the actor may see matching `filters`, newest first, with the total count.

    Raises:
        NotPermitted: `filters.q` is a phone number and the actor's posts see no phone in full.
    """
    page = max(1, page)
    known = versions_of(session, registry)
    if filters.q and _phone_like(filters.q.strip()) and not visibility.may_search_phones(
            actor, (v.definition for v in known)):
        raise NotPermitted(NO_PHONE_SEARCH)
    where = _conditions(actor, filters, now, tz, known)
    count = int(session.execute(select(func.count()).select_from(items).where(*where)).scalar_one())
    records = session.execute(base_query().where(*where).order_by(items.c.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return Page(rows_of(session, list(records), registry, now), page, per_page, page * per_page < count, count)


def state_counts(session: Session, actor: Actor, workflow_id: str) -> dict[str, int]:
    """How many of the items of a workflow the actor may see are in each state."""
    stmt = (select(items.c.state, func.count())
            .where(items.c.workflow_id == workflow_id, *permissions.in_estates(actor, items.c.estate_id),
                   visible(actor, versions_of(session)))
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
    stmt = base_query().where(items.c.id.in_(list(kinds)), *permissions.in_estates(actor, items.c.estate_id),
                         visible(actor, versions_of(session, registry))).order_by(items.c.id)
    records = list(session.execute(stmt).all())
    return [(kinds[r.id], row) for r, row in zip(records, rows_of(session, records, registry, now), strict=True)]


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
    names = display_names(session, _people(definition, dict(item.values)))
    placed = actor.at(item.estate_id)
    result = []
    judged = permissions.acting(item.values, placed)
    for a in permissions.availability(definition, item.state, item.values, local, placed, role_labels(session),
                                      names):
        offers = branches.offered(definition, item.state, a.name, judged, local, placed) if a.allowed else ()
        several = len(definition.transitions_from(item.state, a.name)) > 1
        if offers:
            # One button per branch, each with its own label and form; the branch is sent back only
            # where the name has several, so a single-branch step fires exactly as before.
            result += [Choice(a.name, o.label, True, o.asks, required=o.required,
                              branch=o.index if several else None, options=o.options) for o in offers]
        elif a.allowed:
            result.append(Choice(a.name, a.label, True, a.asks, required=a.asks))
        else:
            result.append(Choice(a.name, a.label, False, (), tuple(r.message for r in a.reasons) or ("条件不满足",)))
    return countersign_choices(session, item, definition, placed, result)  # 会签: a signer signs once


def estates_of(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """(id, name) of the estates the actor works in, by name."""
    stmt = select(estates.c.id, estates.c.name).where(*permissions.in_estates(actor, estates.c.id))
    stmt = stmt.order_by(estates.c.name)
    return [(r.id, r.name) for r in session.execute(stmt)]
