"""The writes that creating, firing, actions and tick share: a new item, notification rows.

    insert_new_item(session, ...)  an item in its initial state, its time limits, history row 1
    add_notifications(db, ...)     one pending outbox row per role (engine/runtime/outbox.py sends them)

engine/runtime/items.py (create), engine/runtime/actions.py (notify, spawn) and
engine/runtime/tick.py (warnings, escalations) write through these, so a row is
built in one place. They run inside the caller's transaction and check nothing:
the callers check first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.language import fields
from engine.language.definition import WorkflowDefinition
from engine.runtime import timers
from engine.store import queries

__all__ = ["add_notifications", "insert_new_item"]


def insert_new_item(session: Session, *, definition: WorkflowDefinition, definition_id: int,
                    definition_version: int, estate_id: str, values: Mapping[str, Any], actor: Actor,
                    now: datetime, comment: str | None, calendars: timers.Calendars,
                    tz: tzinfo | None = None) -> int:
    """Write a new item in its initial state (version 1), its time limits and first history row; returns its id.

    Limits count by the estate's calendar from `calendars`; `tz` is the estate's time
    zone (date fields as limits start at 00:00 there), default: its calendar's.
    """
    initial = definition.initial_state.name
    db = session.connection()
    number = queries.next_number(db, estate_id, definition.number_prefix)
    data = fields.encode(definition.fields, values)
    calendar = calendars.for_estate(estate_id)
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
        "changes": {**{name: [None, value] for name, value in data.items()},
                    **timers.calendar_note(definition, calendar, deadlines)},
        "comment": comment,
    })
    return item_id


def add_notifications(db: Connection, *, definition: WorkflowDefinition, item_id: int, number: str,
                      estate_id: str, roles: Iterable[str], body: str, now: datetime) -> None:
    """Queue `body` for each of `roles` in the item's estate, due at once; the subject is the title and number."""
    subject = f"{definition.title} {number}"
    queries.add_outbox(db, [
        {"item_id": item_id, "estate_id": estate_id, "created_at": now, "role": role, "subject": subject,
         "body": body, "status": "pending", "attempts": 0, "next_attempt_at": now}
        for role in roles
    ])
