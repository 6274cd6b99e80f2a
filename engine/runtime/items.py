"""Creating items and firing transitions: design.md's "Runtime rules", step by step.

    create(session, workflow=, estate=, actor=, data=)      -> ItemView
    fire(session, item_id, transition, actor, data, comment, version) -> ItemView
    available(session, item, actor)                         -> list[Availability]

The caller owns the transaction (`with engine.store.transaction(factory) as s:`);
these functions never commit. Every check runs before the first write, and the
first write is the version-checked UPDATE, so a refused call writes nothing and
raises its typed error (engine/errors.py); a busy database becomes `Conflict`.
Who may act is engine/access/permissions.py's answer: the create rule, the role check
of step 3 and the rule `available` applies (the same one the item page and 我的待办 use),
asked of the actor placed in the item's estate (roles are held per estate). Who may see
an item is engine/access/visibility.py's: an item the actor may not see is answered like
a missing one. `unit` and `user` fields are checked on the server and kept in step with
the item's unit, department and assignees by engine/runtime/parties.py.
The compiled definition comes from the registry (once per published version);
the hot path uses Core statements (engine/store/queries.py), not ORM objects.
Entering a state stores its time limits (engine/runtime/timers.py) in the same transaction,
counted by the estate's calendar from `calendars` (default: engine.runtime.timers.CALENDARS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from engine.access import branches, permissions, visibility
from engine.access.actor import Actor
from engine.clock import Clock, SystemClock
from engine.errors import Conflict, GuardFailed, InvalidFields, ItemNotFound, UnknownTransition
from engine.files import attachments
from engine.language import fields
from engine.language.definition import TransitionDef, WorkflowDefinition
from engine.runtime import actions, countersign, links, logs, parties, timers
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
    unit_id: int | None = None
    department: str | None = None
    """The department the item is dispatched to (the workflow's `access`), for executors' access."""
    assignees: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """`user` field → the user id it names (item_assignees)."""


def _view(row: Row[Any] | Mapping[str, Any], definition: WorkflowDefinition, assigned: Mapping[str, int],
          **changed: Any) -> ItemView:
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
        overdue=bool(merged["overdue"]), unit_id=merged.get("unit_id"), department=merged.get("department"),
        assignees=MappingProxyType(dict(assigned)),
    )


@dataclass(frozen=True, slots=True)
class _Loaded:
    row: Row[Any]
    definition: WorkflowDefinition
    actor: Actor
    """The actor placed in the item's estate."""
    assignees: dict[str, int]


def _missing(item_id: int) -> ItemNotFound:
    return ItemNotFound(f"没有这个工单 (item {item_id})", item_id=item_id)


def _load(session: Session, item_id: int, actor: Actor, registry: Registry) -> _Loaded:
    db = session.connection()
    row = queries.item_row(db, item_id)
    if row is None or not permissions.works_in(actor, row.estate_id):
        # Another estate's item is answered exactly like a missing one.
        raise _missing(item_id)
    definition = registry.compiled(session, row.definition_id, row.content_hash)
    placed = actor.at(row.estate_id)
    assigned = parties.assignees(db, row.id)
    # So is an item of a workflow or department the actor's posts do not see.
    if not visibility.sight(placed, definition, row.estate_id, row.department, assigned.values()).visible:
        raise _missing(item_id)
    return _Loaded(row, definition, placed, assigned)


def get_item(session: Session, item_id: int, actor: Actor, *, registry: Registry = REGISTRY) -> ItemView:
    """Read one item the actor may see. Raises ItemNotFound (also for an item the actor may not see)."""
    loaded = _load(session, item_id, actor, registry)
    return _view(loaded.row, loaded.definition, loaded.assignees)


def parse_data(definition: WorkflowDefinition, data: Mapping[str, Any] | None, tz: tzinfo) -> dict[str, Any]:
    """Submitted values, typed by field (step 4). Raises InvalidFields naming each bad field."""
    parsed: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, raw in (data or {}).items():
        spec = definition.fields.get(name)
        if spec is None:
            problems[str(name)] = _UNDECLARED
            continue
        try:
            parsed[name] = fields.parse(spec, raw, tz)
        except ValueError as error:
            problems[name] = str(error)
            continue
        if parsed[name] is None and spec.required:
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
        placed = actor.at(estate)
        permissions.check_create(session, placed, definition, estate)
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
        found = parties.check(session, definition, estate, values)
        staged = attachments.check(session, definition, estate, values, {})  # files: checked before writing
        now = (clock or _SYSTEM_CLOCK).now()
        values.update(logs.append(definition, {}, values, by=placed.name, at=now))
        item_id = insert_new_item(
            session, definition=definition, definition_id=current.id, definition_version=current.version,
            estate_id=estate, values=values, actor=placed, now=now, comment=comment, calendars=calendars, tz=tz,
            parties=found,
        )
        attachments.write(session, item_id, estate, staged, placed.user_id, now)
        # Read back without the visibility rule: whoever registers an item is shown what they registered.
        row = queries.item_row(session.connection(), item_id)
        assert row is not None
        return _view(row, definition, {f: u for f, u in found.people.items() if u is not None})


def fire(session: Session, item_id: int, transition: str, actor: Actor, data: Mapping[str, Any] | None = None,
         comment: str | None = None, version: int | None = None, *, clock: Clock | None = None,
         registry: Registry = REGISTRY, calendars: timers.Calendars = timers.CALENDARS,
         branch: int | None = None) -> ItemView:
    """Fire `transition` on an item: check, apply, record (design.md "Runtime rules").

    Args:
        version: the lock version the caller saw; None skips the early check (the
            update is still version-checked against what this call read).
        branch: the entry of `transitions` (its index) the person chose, one button per branch;
            honoured only if the roles allow it and its `when` holds (engine/access/branches.py),
            else refused with that branch's own reason. None: the first that holds, in file order.

    Raises:
        ItemNotFound, Conflict, UnknownTransition, NotPermitted, InvalidFields, GuardFailed.
    """
    with translate_busy():
        loaded = _load(session, item_id, actor, registry)  # 1
        row, definition, actor = loaded.row, loaded.definition, loaded.actor
        if version is not None and version != row.version:
            raise Conflict(version, row.version)
        candidates = definition.transitions_from(row.state, transition)  # 2
        if not candidates:
            raise UnknownTransition(f"状态“{definition.states[row.state].label}”下没有操作 {transition}",
                                    transition=transition, state=row.state)
        named = candidates
        candidates = permissions.permitted_branches(actor, transition, candidates)  # 3
        tz = ZoneInfo(row.timezone)
        stored = fields.decode(definition.fields, row.data)
        given = parse_data(definition, data, tz)
        now = (clock or _SYSTEM_CLOCK).now()
        # A log field's text is a new entry after the stored ones (engine/runtime/logs.py).
        working = {**stored, **given, **logs.append(definition, stored, given, by=actor.name, at=now)}  # 4
        local = now.astimezone(tz)
        # Guards may read the acting user (`me`, `my_roles`): on a copy, never stored.
        if branch is not None:  # the person chose the branch: that one or its own refusal
            chosen: TransitionDef | None = branches.honour(
                definition, named, candidates, branch, permissions.acting(working, actor), local,
                lambda: _names(session, definition, working))
        else:
            chosen = definition.choose(row.state, candidates, permissions.acting(working, actor), local)  # 5
        if chosen is None:
            names = parties.display_names(session, (working.get(n) for n, f in definition.fields.items()
                                                    if f.type == "user"))
            conditions = [t.when.source for t in candidates if t.when is not None]
            reason = permissions.guard_refusal(definition, candidates, working, names)
            raise GuardFailed(f"不能{candidates[0].label}：{reason}", transition=transition, conditions=conditions,
                              reason=reason)
        missing = {name: "必填" for name in chosen.require if not fields.is_filled(working.get(name))}  # 6
        # `require_new`: given in this very step; a value stored by an earlier step does not count.
        missing.update({name: "本步必须填写" for name in chosen.require_new if not fields.is_filled(given.get(name))})
        if missing:
            raise InvalidFields(missing)
        chosen, marker = countersign.sign(session, row, definition, chosen, actor, working)
        view = _apply(session, loaded, chosen, working, comment, now, tz, registry, calendars, stored, marker)
        if view.state != row.state:
            # An item waiting on this one may react to the state it entered, in this same transaction.
            links.react(session, view, definition, now, fire=fire, registry=registry, calendars=calendars)
        return view


def _names(session: Session, definition: WorkflowDefinition, values: Mapping[str, Any]) -> dict[str, str]:
    """The display names of the people the `user` fields name (a refusal names the person in charge)."""
    return parties.display_names(session, (values.get(n) for n, f in definition.fields.items() if f.type == "user"))


def _apply(session: Session, loaded: _Loaded, chosen: TransitionDef, working: dict[str, Any], comment: str | None,
           now: datetime, tz: tzinfo, registry: Registry, calendars: timers.Calendars,
           stored: Mapping[str, Any], marker: Mapping[str, Any] | None = None) -> ItemView:
    """Step 7: set, new state, version + 1, time limits, history, actions; the update comes first.

    The order (docs/workflow-language.md "What a step does, in order"): the step's data is on
    `working` already; `set` entries in file order, each seeing the ones before; then the
    actions, in file order, on the values after `set` (a spawn copies them, a notify shows them).
    A `stay` step (and a countersign still waiting for signatures) keeps the state's time limits.
    """
    row, definition, actor = loaded.row, loaded.definition, loaded.actor
    local = now.astimezone(tz)
    problems: dict[str, str] = {}
    for assignment in chosen.set:
        target = definition.fields[assignment.field]
        try:
            value = assignment.value(permissions.acting(working, actor), local)
            working[assignment.field] = fields.parse(target, value, tz)
        except ValueError as error:
            problems[assignment.field] = f"set: {error}"
    if problems:
        raise InvalidFields(problems)
    # The unit and the people the step names are checked before the first write, like everything else.
    found = parties.check(session, definition, row.estate_id, working, stored)
    staged = attachments.check(session, definition, row.estate_id, working, stored)  # uploads → attachment ids
    data = fields.encode(definition.fields, working)
    old = row.data
    changes = {name: [old.get(name), data.get(name)] for name in {**old, **data} if old.get(name) != data.get(name)}
    changes.update(logs.new_entries(definition, old, data))
    changes.update(marker or {})
    ctx = actions.ActionContext(row.id, row.number, row.estate_id, row.estate_name, chosen.dest, definition,
                                working, actor, now, tz, registry, calendars)
    writers = actions.plan(session, ctx, chosen.actions)
    columns: dict[str, Any] = {"state": chosen.dest, "data": data, "version": row.version + 1, "updated_at": now}
    # Every transition enters its target, a self-transition too (its limits restart). Without
    # limits, timers or pauses on either side the entry columns ride on the one UPDATE.
    plain = (timers.timeless(definition, row.state, chosen.dest) and row.paused_since is None
             and not row.overdue and row.deadline_at is None)
    # A `stay` step records without moving: the state is not entered again, its limits keep running.
    stay = chosen.stay and chosen.dest == row.state
    if plain and not stay:
        columns.update(state_entered_at=now, deadline_at=None, overdue=False)
    db = session.connection()
    if not queries.update_item(db, row.id, row.version, columns):
        raise Conflict(row.version, queries.item_version(db, row.id))
    if not plain and not stay:
        calendar = calendars.for_workflow(row.estate_id, definition.calendar)
        entered, notes = timers.move(db, row.id, definition, row.state, chosen.dest, working, now, calendar, tz)
        columns.update(entered)
        changes.update(notes)  # _was_overdue, _calendar_uncovered: markers shaped like field changes
    parties.write(db, row.id, found, dict(row._mapping))
    columns.update(found.columns())
    queries.add_history(db, {
        "item_id": row.id, "kind": "transition", "transition": chosen.name, "event": None,
        "from_state": row.state, "to_state": chosen.dest, "actor_id": actor.user_id, "actor_name": actor.name,
        "at": now, "changes": changes, "comment": comment, "branch": chosen.index,
    })
    attachments.write(session, row.id, row.estate_id, staged, actor.user_id, now)  # after the row it names
    for write in writers:
        write(session)
    people = {**loaded.assignees, **found.people}
    return _view(row, definition, {f: u for f, u in people.items() if u is not None}, values=working, **columns)


def available(session: Session, item: int | ItemView, actor: Actor, *, clock: Clock | None = None,
              registry: Registry = REGISTRY) -> list[permissions.Availability]:
    """Every transition name leaving the item's state, allowed or with the reasons it is not.

    The rule is engine/access/permissions.py's, the one the item page and 我的待办 use:
    guards are judged on the stored values, or over what the step's form may be given
    (`fire` checks again on what is typed). Reasons name roles by their labels.
    """
    loaded = _load(session, item if isinstance(item, int) else item.id, actor, registry)
    row, definition = loaded.row, loaded.definition
    stored = fields.decode(definition.fields, row.data)
    local = (clock or _SYSTEM_CLOCK).now().astimezone(ZoneInfo(row.timezone))
    labels = permissions.role_labels(session)
    names = parties.display_names(session, (stored.get(n) for n, f in definition.fields.items() if f.type == "user"))
    return list(permissions.availability(definition, row.state, stored, local, loaded.actor, labels, names))
