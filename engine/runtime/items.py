"""Creating items and firing transitions: design.md's "Runtime rules", step by step.

    create(session, workflow=, estate=, actor=, data=)      -> ItemView
    fire(session, item_id, transition, actor, data, comment, version) -> ItemView
    available(session, item, actor)                         -> list[Availability]

The caller owns the transaction (`with engine.store.transaction(factory) as s:`);
these functions never commit. Every check runs before the first write, and the
first write is the version-checked UPDATE, so a refused call writes nothing and
raises its typed error (engine/errors.py); a busy database becomes `Conflict`.
The compiled definition comes from the registry (once per published version);
the hot path uses Core statements (engine/store/queries.py), not ORM objects.
Entering a state stores its time limits (engine/runtime/timers.py) in the same transaction,
counted by the estate's calendar from `calendars` (default: engine.runtime.timers.active()).
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

from engine.clock import Clock, SystemClock
from engine.errors import Conflict, GuardFailed, InvalidFields, ItemNotFound, NotPermitted, UnknownTransition
from engine.language import fields
from engine.language.definition import SYSTEM_ROLE, TransitionDef, WorkflowDefinition
from engine.language.machine import branch_order
from engine.runtime import actions, timers
from engine.runtime.registry import REGISTRY, Registry
from engine.store import queries
from engine.store.db import translate_busy
from engine.store.models import Estate, User, UserEstate, UserRole

__all__ = [
    "Actor", "Availability", "ItemView", "Reason", "available", "create", "fire", "get_item", "load_actor",
]

_SYSTEM_CLOCK = SystemClock()
_UNDECLARED = "没有这个字段"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user (id, name, roles, estates), or the system (`user_id` None, every estate)."""

    user_id: int | None
    name: str
    roles: frozenset[str]
    estates: frozenset[str] | None
    """None only for the system actor: it works in every estate."""

    @classmethod
    def system(cls) -> Actor:
        """The built-in actor of timers: skips role checks, never guards."""
        return cls(None, "系统", frozenset({SYSTEM_ROLE}), None)

    @property
    def is_system(self) -> bool:
        """Whether this is the system actor."""
        return self.user_id is None and self.estates is None

    def works_in(self, estate_id: str) -> bool:
        """Whether the actor sees items of `estate_id`."""
        return self.estates is None or estate_id in self.estates

    def may(self, transition: TransitionDef) -> bool:
        """Whether the actor's roles allow `transition` (a transition without roles is the system's)."""
        return self.is_system or not self.roles.isdisjoint(transition.roles)


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


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a transition cannot be fired now; `code` is an error code."""

    code: str
    message: str
    fields: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Availability:
    """One transition name leaving the item's state, as the actor sees it.

    `allowed`: the actor's roles permit it and a branch's guard holds on the stored
    values. `needs`: the chosen branch's `require` fields still empty, which the
    form must ask for. `reasons` explains every obstacle (role, guard, fields).
    """

    name: str
    label: str
    to: str | None
    allowed: bool
    needs: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = ()

    @property
    def ready(self) -> bool:
        """Allowed and nothing left to fill in."""
        return self.allowed and not self.needs


def load_actor(session: Session, user_id: int) -> Actor:
    """The actor for a stored user, with its roles and estates."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise ItemNotFound("没有这个用户", user_id=user_id)
    roles = session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)).all()
    estates = session.scalars(select(UserEstate.estate_id).where(UserEstate.user_id == user_id)).all()
    return Actor(user.id, user.display_name, frozenset(roles), frozenset(estates))


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
    if row is None or not actor.works_in(row.estate_id):
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


def insert_new_item(session: Session, *, definition: WorkflowDefinition, definition_id: int,
                    definition_version: int, estate_id: str, values: Mapping[str, Any], actor: Actor,
                    now: datetime, comment: str | None, tz: tzinfo | None = None) -> int:
    """Write a new item in its initial state (version 1), its time limits and first history row; returns its id.

    `tz` is the estate's time zone (date fields as limits start at 00:00 there); default: its calendar's.
    """
    initial = definition.initial_state.name
    db = session.connection()
    number = queries.next_number(db, estate_id, definition.number_prefix)
    data = fields.encode(definition.fields, values)
    calendar = timers.active().for_estate(estate_id)
    time_columns, deadlines = timers.plan_entry(definition, initial, values, now, calendar, tz or calendar.tz)
    item_id = queries.insert_item(db, {
        "estate_id": estate_id, "number": number, "workflow_id": definition.id, "definition_id": definition_id,
        "definition_version": definition_version, "state": initial, "data": data, "version": 1,
        "created_at": now, "updated_at": now, "created_by": actor.user_id, **time_columns,
    })
    queries.add_deadlines(db, [{"item_id": item_id, **row} for row in deadlines])
    queries.add_history(db, {
        "item_id": item_id, "kind": "transition", "transition": None, "event": None, "from_state": None,
        "to_state": initial, "actor_id": actor.user_id, "actor_name": actor.name, "at": now,
        "changes": {name: [None, value] for name, value in data.items()}, "comment": comment,
    })
    return item_id


def create(session: Session, *, workflow: str, estate: str, actor: Actor, data: Mapping[str, Any] | None,
           comment: str | None = None, clock: Clock | None = None, registry: Registry = REGISTRY,
           calendars: timers.Calendars | None = None) -> ItemView:
    """Register a new item of `workflow` in `estate`, on the newest published version.

    Raises:
        NotPermitted: the actor does not work in the estate, or has no role of `create_roles`.
        ItemNotFound: no such estate, or the workflow is not published.
        InvalidFields: an undeclared or ill-typed field, or a `required` field missing.
    """
    with translate_busy(), timers.using(calendars):
        if not actor.works_in(estate):
            raise NotPermitted(f"你不在小区 {estate} 工作", estate=estate)
        place = session.execute(select(Estate.timezone).where(Estate.id == estate)).first()
        if place is None:
            raise ItemNotFound(f"没有这个小区: {estate}", estate=estate)
        current = registry.current(session, workflow, estate)
        if current is None:
            raise ItemNotFound(f"没有已发布的流程: {workflow}", workflow=workflow)
        definition = current.definition
        if not actor.is_system and actor.roles.isdisjoint(definition.create_roles):
            raise NotPermitted(f"你的角色不能登记{definition.title}", roles=list(definition.create_roles))
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
            estate_id=estate, values=values, actor=actor, now=now, comment=comment, tz=tz,
        )
        return get_item(session, item_id, actor, registry=registry)


def _choose(candidates: tuple[TransitionDef, ...], values: Mapping[str, Any], now: datetime) -> TransitionDef | None:
    for transition in branch_order(candidates):
        if transition.when is None or bool(transition.when.evaluate(values, now)):
            return transition
    return None


def fire(session: Session, item_id: int, transition: str, actor: Actor, data: Mapping[str, Any] | None = None,
         comment: str | None = None, version: int | None = None, *, clock: Clock | None = None,
         registry: Registry = REGISTRY, calendars: timers.Calendars | None = None) -> ItemView:
    """Fire `transition` on an item: check, apply, record (design.md "Runtime rules").

    Args:
        version: the lock version the caller saw; None skips the early check (the
            update is still version-checked against what this call read).

    Raises:
        ItemNotFound, Conflict, UnknownTransition, NotPermitted, InvalidFields, GuardFailed.
    """
    with translate_busy(), timers.using(calendars):
        row = _load(session, item_id, actor)  # 1
        if version is not None and version != row.version:
            raise Conflict(version, row.version)
        definition = registry.compiled(session, row.definition_id, row.content_hash)
        candidates = definition.transitions_from(row.state, transition)  # 2
        if not candidates:
            raise UnknownTransition(f"状态“{definition.states[row.state].label}”下没有操作 {transition}",
                                    transition=transition, state=row.state)
        if not actor.is_system:  # 3
            allowed = tuple(t for t in candidates if actor.may(t))
            if not allowed:
                roles = sorted({r for t in candidates for r in t.roles})
                raise NotPermitted(f"你的角色不能执行 {transition}", transition=transition, roles=roles)
            candidates = allowed
        tz = ZoneInfo(row.timezone)
        stored = fields.decode(definition.fields, row.data)
        working = {**stored, **parse_data(definition, data, tz)}  # 4
        now = (clock or _SYSTEM_CLOCK).now()
        local = now.astimezone(tz)
        chosen = _choose(candidates, working, local)  # 5
        if chosen is None:
            conditions = [t.when.source for t in candidates if t.when is not None]
            raise GuardFailed(f"不满足“{candidates[0].label}”的条件：{'；'.join(conditions)}",
                              transition=transition, conditions=conditions)
        missing = {name: "必填" for name in chosen.require if not fields.is_filled(working.get(name))}  # 6
        if missing:
            raise InvalidFields(missing)
        return _apply(session, row, definition, chosen, working, actor, comment, now, tz, registry)


def _apply(session: Session, row: Row[Any], definition: WorkflowDefinition, chosen: TransitionDef,
           working: dict[str, Any], actor: Actor, comment: str | None, now: datetime, tz: tzinfo,
           registry: Registry) -> ItemView:
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
                                working, actor, now, tz, registry)
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
        calendar = timers.active().for_estate(row.estate_id)
        entered, was_overdue = timers.move(db, row.id, definition, row.state, chosen.dest, working, now, calendar, tz)
        columns.update(entered)
        if was_overdue:
            # [old, new] like a field change; the leading _ keeps it apart from field names
            # (which start with a letter). Statistics count late items by it.
            changes["_was_overdue"] = [True, False]
    queries.add_history(db, {
        "item_id": row.id, "kind": "transition", "transition": chosen.name, "event": None,
        "from_state": row.state, "to_state": chosen.dest, "actor_id": actor.user_id, "actor_name": actor.name,
        "at": now, "changes": changes, "comment": comment,
    })
    for write in writers:
        write(session)
    return _view(row, definition, values=working, **columns)


def available(session: Session, item: int | ItemView, actor: Actor, *, clock: Clock | None = None,
              registry: Registry = REGISTRY) -> list[Availability]:
    """Every transition name leaving the item's state, allowed or with the reasons it is not.

    Guards are evaluated on the stored values (data typed into the form may change
    the answer; `fire` checks again).
    """
    row = _load(session, item if isinstance(item, int) else item.id, actor)
    definition = registry.compiled(session, row.definition_id, row.content_hash)
    stored = fields.decode(definition.fields, row.data)
    local = (clock or _SYSTEM_CLOCK).now().astimezone(ZoneInfo(row.timezone))
    leaving = definition.transitions_from(row.state)
    result = []
    for name in dict.fromkeys(t.name for t in leaving):
        branches = tuple(t for t in leaving if t.name == name)
        permitted = tuple(t for t in branches if actor.may(t))
        chosen = _choose(permitted or branches, stored, local)
        reasons: list[Reason] = []
        if not permitted:
            roles = tuple(sorted({r for t in branches for r in t.roles}))
            text = "只能由系统自动执行" if not roles else "需要以下角色之一：" + "、".join(roles)
            reasons.append(Reason("not_permitted", text, roles=roles))
        if chosen is None:
            sources = "；".join(t.when.source for t in branches if t.when is not None)
            reasons.append(Reason("guard_failed", f"条件不满足：{sources}"))
        needs = tuple(f for f in chosen.require if not fields.is_filled(stored.get(f))) if chosen else ()
        if needs:
            labels = "、".join(definition.fields[f].label for f in needs)
            reasons.append(Reason("invalid_fields", f"需要填写：{labels}", fields=needs))
        shown = chosen or branches[0]
        result.append(Availability(name, shown.label, chosen.dest if chosen else None,
                                   bool(permitted) and chosen is not None, needs, tuple(reasons)))
    return result
