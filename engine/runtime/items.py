"""Creating items and firing transitions: design.md's "Runtime rules", step by step.

    create(session, workflow=, estate=, actor=, data=)      -> ItemView
    fire(session, item_id, transition, actor, data, comment, version) -> ItemView
    available(session, item, actor)                         -> list[Availability]

The caller owns the transaction (`with engine.store.transaction(factory) as s:`);
these functions never commit. Every check runs before the first write, and the
first write is the version-checked UPDATE, so a refused call writes nothing and
raises its typed error (engine/errors.py); a busy database becomes `Conflict`.
Who may act is engine/access/permissions.py's answer: the create rule, the role check
of step 3 and the rule `available` applies (the same one the item page and 我的待办 use).
The compiled definition comes from the registry (once per published version);
the hot path uses Core statements (engine/store/queries.py), not ORM objects.
Entering a state stores its time limits (engine/runtime/timers.py) in the same transaction,
counted by the estate's calendar from `calendars` (default: engine.runtime.timers.CALENDARS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.clock import Clock, SystemClock
from engine.errors import Conflict, GuardFailed, InvalidFields, ItemNotFound, UnknownTransition
from engine.language import fields
from engine.language.definition import TransitionDef, WorkflowDefinition
from engine.runtime import actions, timers
from engine.runtime.registry import REGISTRY, Registry
from engine.runtime.writes import insert_new_item
from engine.store import queries
from engine.store.db import translate_busy
from engine.store.models import Estate

__all__ = ["ItemView", "available", "create", "fire", "get_item"]

_SYSTEM_CLOCK = SystemClock()
_UNDECLARED = "没有这个字段"


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item as the runtime returns it: plain data, usable after the session is closed."""

    id: int
    number: str
    estate_id: str
    workflow_id: str
    definition_id: int
    definition_version: int
    state: str
    values: Mapping[str, Any]
    """Typed field values (see engine/language/fields.py); unset fields are absent."""
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: int | None
    state_entered_at: datetime
    deadline_at: datetime | None = None
    overdue: bool = False


def _view(row: Row[Any] | Mapping[str, Any], definition: WorkflowDefinition, **changed: Any) -> ItemView:
    data = row._mapping if isinstance(row, Row) else row
    merged = {**data, **changed}
    values = merged.get("values")
    if values is None:
        values = fields.decode(definition.fields, merged["data"])
    return ItemView(
        id=merged["id"], number=merged["number"], estate_id=merged["estate_id"], workflow_id=merged["workflow_id"],
        definition_id=merged["definition_id"], definition_version=merged["definition_version"],
        state=merged["state"], values=MappingProxyType(dict(values)), version=merged["version"],
        created_at=merged["created_at"], updated_at=merged["updated_at"], created_by=merged["created_by"],
        state_entered_at=merged["state_entered_at"], deadline_at=merged["deadline_at"],
        overdue=bool(merged["overdue"]),
    )


def _load(session: Session, item_id: int, actor: Actor) -> Row[Any]:
    row = queries.item_row(session.connection(), item_id)
    if row is None or not permissions.works_in(actor, row.estate_id):
        # Another estate's item is answered exactly like a missing one.
        raise ItemNotFound(f"没有这个工单 (item {item_id})", item_id=item_id)
    return row


def get_item(session: Session, item_id: int, actor: Actor, *, registry: Registry = REGISTRY) -> ItemView:
    """Read one item the actor may see. Raises ItemNotFound."""
    row = _load(session, item_id, actor)
    return _view(row, registry.compiled(session, row.definition_id, row.content_hash))


def parse_data(definition: WorkflowDefinition, data: Mapping[str, Any] | None, tz: tzinfo) -> dict[str, Any]:
    """Submitted values, typed by field (step 4). Raises InvalidFields naming each bad field."""
    parsed: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, raw in (data or {}).items():
        field = definition.fields.get(name)
        if field is None:
            problems[str(name)] = _UNDECLARED
            continue
        try:
            parsed[name] = fields.parse(field, raw, tz)
        except ValueError as error:
            problems[name] = str(error)
            continue
        if parsed[name] is None and field.required:
            problems[name] = "不能为空"
    if problems:
        raise InvalidFields(problems)
    return parsed


def create(session: Session, *, workflow: str, estate: str, actor: Actor, data: Mapping[str, Any] | None,
           comment: str | None = None, clock: Clock | None = None, registry: Registry = REGISTRY,
           calendars: timers.Calendars = timers.CALENDARS) -> ItemView:
    """Register a new item of `workflow` in `estate`, on the newest published version.

    Raises:
        NotPermitted: the actor does not work in the estate, or has no role of `create_roles`.
        ItemNotFound: no such estate, or the workflow is not published.
        InvalidFields: an undeclared or ill-typed field, or a `required` field missing.
    """
    with translate_busy():
        # The estate half of the rule first: another estate's existence is not told.
        permissions.check_estate(actor, estate)
        place = session.execute(select(Estate.timezone).where(Estate.id == estate)).first()
        if place is None:
            raise ItemNotFound(f"没有这个小区: {estate}", estate=estate)
        current = registry.current(session, workflow, estate)
        if current is None:
            raise ItemNotFound(f"没有已发布的流程: {workflow}", workflow=workflow)
        definition = current.definition
        permissions.check_create(session, actor, definition, estate)
        tz = ZoneInfo(place.timezone)
        # Ill-typed and missing fields are reported together: the form shows every mistake at once.
        try:
            values, bad = parse_data(definition, data, tz), {}
        except InvalidFields as error:
            values, bad = {}, error.fields
        missing = {name: "必填" for name, f in definition.fields.items()
                   if f.required and name not in bad and not fields.is_filled((data or {}).get(name))
                   and not fields.is_filled(values.get(name))}
        if bad or missing:
            raise InvalidFields({**bad, **missing})
        now = (clock or _SYSTEM_CLOCK).now()
        item_id = insert_new_item(
            session, definition=definition, definition_id=current.id, definition_version=current.version,
            estate_id=estate, values=values, actor=actor, now=now, comment=comment, calendars=calendars, tz=tz,
        )
        return get_item(session, item_id, actor, registry=registry)


def fire(session: Session, item_id: int, transition: str, actor: Actor, data: Mapping[str, Any] | None = None,
         comment: str | None = None, version: int | None = None, *, clock: Clock | None = None,
         registry: Registry = REGISTRY, calendars: timers.Calendars = timers.CALENDARS) -> ItemView:
    """Fire `transition` on an item: check, apply, record (design.md "Runtime rules").

    Args:
        version: the lock version the caller saw; None skips the early check (the
            update is still version-checked against what this call read).

    Raises:
        ItemNotFound, Conflict, UnknownTransition, NotPermitted, InvalidFields, GuardFailed.
    """
    with translate_busy():
        row = _load(session, item_id, actor)  # 1
        if version is not None and version != row.version:
            raise Conflict(version, row.version)
        definition = registry.compiled(session, row.definition_id, row.content_hash)
        candidates = definition.transitions_from(row.state, transition)  # 2
        if not candidates:
            raise UnknownTransition(f"状态“{definition.states[row.state].label}”下没有操作 {transition}",
                                    transition=transition, state=row.state)
        candidates = permissions.permitted_branches(actor, transition, candidates)  # 3
        tz = ZoneInfo(row.timezone)
        stored = fields.decode(definition.fields, row.data)
        working = {**stored, **parse_data(definition, data, tz)}  # 4
        now = (clock or _SYSTEM_CLOCK).now()
        local = now.astimezone(tz)
        chosen = definition.choose(row.state, candidates, working, local)  # 5
        if chosen is None:
            conditions = [t.when.source for t in candidates if t.when is not None]
            raise GuardFailed(f"不满足“{candidates[0].label}”的条件：{'；'.join(conditions)}",
                              transition=transition, conditions=conditions)
        missing = {name: "必填" for name in chosen.require if not fields.is_filled(working.get(name))}  # 6
        if missing:
            raise InvalidFields(missing)
        return _apply(session, row, definition, chosen, working, actor, comment, now, tz, registry, calendars)


def _apply(session: Session, row: Row[Any], definition: WorkflowDefinition, chosen: TransitionDef,
           working: dict[str, Any], actor: Actor, comment: str | None, now: datetime, tz: tzinfo,
           registry: Registry, calendars: timers.Calendars) -> ItemView:
    """Step 7: set, new state, version + 1, time limits, history, actions; the update comes first."""
    local = now.astimezone(tz)
    problems: dict[str, str] = {}
    for assignment in chosen.set:
        field = definition.fields[assignment.field]
        try:
            working[assignment.field] = fields.parse(field, assignment.value(working, local), tz)
        except ValueError as error:
            problems[assignment.field] = f"set: {error}"
    if problems:
        raise InvalidFields(problems)
    data = fields.encode(definition.fields, working)
    old = row.data
    changes = {name: [old.get(name), data.get(name)] for name in {**old, **data} if old.get(name) != data.get(name)}
    ctx = actions.ActionContext(row.id, row.number, row.estate_id, row.estate_name, chosen.dest, definition,
                                working, actor, now, tz, registry, calendars)
    writers = actions.plan(session, ctx, chosen.actions)
    columns: dict[str, Any] = {"state": chosen.dest, "data": data, "version": row.version + 1, "updated_at": now}
    # Every transition enters its target, a self-transition too (its limits restart). Without
    # limits, timers or pauses on either side the entry columns ride on the one UPDATE.
    plain = (timers.timeless(definition, row.state, chosen.dest) and row.paused_since is None
             and not row.overdue and row.deadline_at is None)
    if plain:
        columns.update(state_entered_at=now, deadline_at=None, overdue=False)
    db = session.connection()
    if not queries.update_item(db, row.id, row.version, columns):
        raise Conflict(row.version, queries.item_version(db, row.id))
    if not plain:
        calendar = calendars.for_estate(row.estate_id)
        entered, notes = timers.move(db, row.id, definition, row.state, chosen.dest, working, now, calendar, tz)
        columns.update(entered)
        changes.update(notes)  # _was_overdue, _calendar_uncovered: markers shaped like field changes
    queries.add_history(db, {
        "item_id": row.id, "kind": "transition", "transition": chosen.name, "event": None,
        "from_state": row.state, "to_state": chosen.dest, "actor_id": actor.user_id, "actor_name": actor.name,
        "at": now, "changes": changes, "comment": comment,
    })
    for write in writers:
        write(session)
    return _view(row, definition, values=working, **columns)


def available(session: Session, item: int | ItemView, actor: Actor, *, clock: Clock | None = None,
              registry: Registry = REGISTRY) -> list[permissions.Availability]:
    """Every transition name leaving the item's state, allowed or with the reasons it is not.

    The rule is engine/access/permissions.py's, the one the item page and 我的待办 use:
    guards are judged on the stored values, or over what the step's form may be given
    (`fire` checks again on what is typed). Reasons name roles by their labels.
    """
    row = _load(session, item if isinstance(item, int) else item.id, actor)
    definition = registry.compiled(session, row.definition_id, row.content_hash)
    stored = fields.decode(definition.fields, row.data)
    local = (clock or _SYSTEM_CLOCK).now().astimezone(ZoneInfo(row.timezone))
    labels = permissions.role_labels(session)
    return list(permissions.availability(definition, row.state, stored, local, actor, labels))
