"""The writes that creating, firing, actions and tick share: a new item, notification rows.

    insert_new_item(session, ...)  an item in its initial state, its unit, department and assignees
                                   (engine/runtime/parties.py), its time limits, history row 1
    add_notifications(db, ...)     one pending outbox row per role and per person (engine/runtime/outbox.py sends them)

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
from engine.runtime import item_limits, timers
from engine.runtime import parties as named
from engine.store import queries

__all__ = ["add_notifications", "insert_new_item"]


def insert_new_item(session: Session, *, definition: WorkflowDefinition, definition_id: int,
                    definition_version: int, estate_id: str, values: Mapping[str, Any], actor: Actor,
                    now: datetime, comment: str | None, calendars: timers.Calendars,
                    tz: tzinfo | None = None, parties: named.Parties | None = None,
                    received: datetime | None = None) -> int:
    """Write a new item in its initial state (version 1), its time limits and first history row; returns its id.

    Limits count by the estate's calendar from `calendars`; `tz` is the estate's time
    zone (date fields as limits start at 00:00 there), default: its calendar's. `parties`
    is what parties.check found for `values` (its unit, department and people).
    """
    parties = parties or named.Parties()
    initial = definition.initial_state.name
    db = session.connection()
    number = queries.next_number(db, estate_id, definition.number_prefix)
    data = fields.encode(definition.fields, values)
    calendar = calendars.for_workflow(estate_id, definition.calendar)
    # `received`: a spawned item's limits may count from the call behind it (`since: received`, review E6).
    time_columns, deadlines = timers.plan_entry(definition, initial, values, now, calendar, tz or calendar.tz,
                                                received=received)
    item_id = queries.insert_item(db, {
        "estate_id": estate_id, "number": number, "workflow_id": definition.id, "definition_id": definition_id,
        "definition_version": definition_version, "state": initial, "data": data, "version": 1,
        "created_at": now, "updated_at": now, "created_by": actor.user_id, **time_columns, **parties.columns(),
    })
    named.write(db, item_id, parties)
    queries.add_deadlines(db, [{"item_id": item_id, **row} for row in deadlines])
    queries.add_history(db, {
        "item_id": item_id, "kind": "transition", "transition": None, "event": None, "from_state": None,
        "to_state": initial, "actor_id": actor.user_id, "actor_name": actor.name, "at": now,
        "changes": {**{name: [None, value] for name, value in data.items()},
                    **timers.calendar_note(definition, calendar, deadlines),
                    **item_limits.reception_note(received, now, tz or calendar.tz)},
        "comment": comment,
    })
    return item_id


def add_notifications(db: Connection, *, definition: WorkflowDefinition, item_id: int, number: str,
                      estate_id: str, roles: Iterable[str], body: str, now: datetime,
                      users: Iterable[int] = ()) -> None:
    """Queue `body` for each of `roles` in the item's estate and for each of `users` (ids), due at once.

    The subject is the title and number. A role row goes to the role's holders in the
    estate, a user row to that person (or their stand-in while they are on leave).
    """
    subject = f"{definition.title} {number}"
    common = {"item_id": item_id, "estate_id": estate_id, "created_at": now, "subject": subject, "body": body,
              "status": "pending", "attempts": 0, "next_attempt_at": now}
    queries.add_outbox(db, [
        *({**common, "role": role, "user_id": None} for role in roles),
        *({**common, "role": None, "user_id": user_id} for user_id in users),
    ])
