"""Side effects of a transition, by dispatch table: `notify` and `spawn`.

`notify` writes a row per role (the holders in the item's estate) and, with `user:`, one for
the person a `user` field names. Each action is planned before anything is written (a spawn that cannot be made
fails the whole fire with nothing written) and returns a writer that runs after
the item's version-checked update, in the same transaction, through
engine/runtime/writes.py (the rows it builds are the ones create and tick write too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.errors import InvalidFields, ItemNotFound
from engine.language import fields
from engine.language.definition import (
    Action,
    LinkAction,
    NotifyAction,
    ResidentNotifyAction,
    SpawnAction,
    WorkflowDefinition,
)
from engine.runtime import item_limits, item_refs, parties, resident_messages
from engine.runtime.registry import Registry
from engine.runtime.timers import Calendars
from engine.runtime.writes import add_notifications, insert_new_item
from engine.store import queries
from engine.store.models import User

__all__ = ["ACTIONS", "ActionContext", "Writer", "plan"]

Writer = Callable[[Session], None]


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What an action sees: the item after the transition, and who fired it when."""

    item_id: int
    number: str
    estate_id: str
    estate_name: str
    state: str
    definition: WorkflowDefinition
    values: Mapping[str, Any]
    actor: Actor
    now: datetime
    tz: tzinfo
    registry: Registry
    calendars: Calendars
    """The working calendars the item's limits count by (a spawned item's too)."""


def template_values(ctx: ActionContext, names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Placeholder values: display text of each field (personal data masked, people by the display
    names of `names`, never a login id), then item attributes."""
    definition = ctx.definition
    values = {
        "number": ctx.number,
        "title": definition.title,
        "state": definition.states[ctx.state].label,
        "estate": ctx.estate_name,
    }
    for name, field in definition.fields.items():
        value = ctx.values.get(name)
        if field.type == "user":
            values[name] = (names or {}).get(str(value), "") if value is not None else ""
        else:
            values[name] = fields.display(field, value, ctx.tz)
    return values


def _notify(session: Session, ctx: ActionContext, action: Action) -> Writer:
    assert isinstance(action, NotifyAction)
    # Only the people the text names are looked up (no query on the hot path otherwise).
    people = [ctx.values.get(n) for n in action.template.placeholders
              if n in ctx.definition.fields and ctx.definition.fields[n].type == "user"]
    body = action.template.render(template_values(ctx, parties.display_names(session, people)))
    # `notify: {user: FIELD}`: the person the field names (checked by parties.check); nobody when empty.
    username = ctx.values.get(action.user_field) if action.user_field else None
    users: list[int] = []
    if username is not None:
        users = list(session.scalars(select(User.id).where(User.username == str(username))))

    def write(session: Session) -> None:
        add_notifications(session.connection(), definition=ctx.definition, item_id=ctx.item_id, number=ctx.number,
                          estate_id=ctx.estate_id, roles=action.roles, body=body, now=ctx.now, users=users)

    return write


def _spawn(session: Session, ctx: ActionContext, action: Action) -> Writer:
    assert isinstance(action, SpawnAction)
    current = ctx.registry.current(session, action.workflow, ctx.estate_id)
    if current is None:
        raise ItemNotFound(f"没有已发布的流程 {action.workflow}", workflow=action.workflow)
    target = current.definition
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name in action.copy:
        source, field = ctx.definition.fields.get(name), target.fields.get(name)
        value = ctx.values.get(name)
        if field is None or source is None or value is None:
            continue
        try:
            values[name] = fields.parse(field, fields.to_json(source, value), ctx.tz)
        except ValueError as error:
            problems[f"{action.workflow}.{name}"] = str(error)
    for name, field in target.fields.items():
        if field.required and not fields.is_filled(values.get(name)):
            problems[f"{action.workflow}.{name}"] = "派生工单缺少必填字段"
    if problems:
        raise InvalidFields(problems)
    # The spawned item's unit and people are checked like a created one's, before anything is written.
    try:
        found = parties.check(session, target, ctx.estate_id, values)
    except InvalidFields as error:
        raise InvalidFields({f"{action.workflow}.{n}": why for n, why in error.fields.items()}) from None

    def write(session: Session) -> None:
        child = insert_new_item(
            session, definition=target, definition_id=current.id, definition_version=current.version,
            estate_id=ctx.estate_id, values=values, actor=ctx.actor, now=ctx.now,
            comment=f"由 {ctx.number} 派生", calendars=ctx.calendars, parties=found,
            # keep_reception: the same call, so `since: received` counts from the parent's reception (review E6).
            received=item_limits.received_at(session.connection(), ctx.item_id) if action.keep_reception else None,
        )
        queries.add_links(session.connection(), ctx.item_id, child)

    return write


def _resident(session: Session, ctx: ActionContext, action: Action) -> Writer:
    # `notify: {resident: phone, template: dispatched}`: consent, template and history in resident_messages.
    assert isinstance(action, ResidentNotifyAction)
    return resident_messages.plan(session, action=action, item_id=ctx.item_id, estate_id=ctx.estate_id,
                                  state=ctx.state, raw_phone=ctx.values.get(action.field), values=template_values(ctx),
                                  now=ctx.now, actor_id=ctx.actor.user_id, actor_name=ctx.actor.name)


def _link(session: Session, ctx: ActionContext, action: Action) -> Writer:
    # `link: {workflow: notice, number: notice_ref, states: [published]}`: engine/runtime/item_refs.py.
    return item_refs.plan(session, ctx.item_id, ctx.estate_id, ctx.values, action, ctx.registry)


ACTIONS: dict[type, Callable[[Session, ActionContext, Action], Writer]] = {
    NotifyAction: _notify,
    SpawnAction: _spawn,
    ResidentNotifyAction: _resident,
    LinkAction: _link,
}


def plan(session: Session, ctx: ActionContext, actions: tuple[Action, ...]) -> list[Writer]:
    """Check each action and return its writer, in file order (nothing is written here).

    Raises:
        InvalidFields: a spawned item would lack a required field or get an ill-typed one.
        ItemNotFound: a spawned workflow is not published.
    """
    return [ACTIONS[type(action)](session, ctx, action) for action in actions]
