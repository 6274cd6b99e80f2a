"""Whole-item limits and reception time: the item_deadlines rows that outlive a state.

A whole-item limit (`item_sla:`, engine/language/definition.py) is armed once, at creation.
Its rows are ordinary item_deadlines rows with a negative `rule_index` (-1 for item_sla[0],
-2 for item_sla[1], ...) and the item's current state in `state`: every query that runs,
suspends or lists a state's rows (engine/store/queries.py) therefore treats them like that
state's own, and a paused state suspends them like any other. What differs is leaving a state:
instead of being cancelled they follow the item into its next state (`carry`), and only a
final state, or a state the limit's `until` names (`stop`), cancels them.

The reception time (`since: received`): when the call behind an item came in (review E6). An item
spawned by a `spawn` with `keep_reception: true` was received when its parent was; the creation row
of its history records that time (RECEIVED, shown as 接待时间). Any other item was received when it
was registered. So an intake call's complaint counts from the call, while a handover defect's repair
(spawned by a move-in registered weeks before) counts from its own registration.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from engine.language.definition import SlaRule
from engine.store import queries

__all__ = ["ITEM_RULE", "RECEIVED", "cancel_own", "carry", "index_of", "received_at", "reception_note", "rule_index",
           "stop"]

ITEM_RULE = -1
"""rule_index of item_sla[0]; item_sla[i] is -1 - i."""
RECEIVED = "_received"
"""On a spawned item's creation row: [null, its reception time (ISO, the estate's time zone)]. The leading _
keeps it apart from field names, like the other history markers (engine/runtime/timers.py)."""

_deadlines, _history, _items = queries.deadlines, queries.history, queries.items


def rule_index(position: int) -> int:
    """The rule_index stored for item_sla[position]."""
    return ITEM_RULE - position


def index_of(stored: int) -> int | None:
    """The item_sla position of a stored rule_index, or None for a state's own row."""
    return ITEM_RULE - stored if stored <= ITEM_RULE else None


def carry(db: Connection, item_id: int, source: str, dest: str) -> int:
    """Move the item's pending whole-item rows from `source` to `dest` (it left `source` for `dest`)."""
    stmt = (update(_deadlines)
            .where(_deadlines.c.item_id == item_id, _deadlines.c.state == source,
                   _deadlines.c.status == "pending", _deadlines.c.rule_index <= ITEM_RULE)
            .values(state=dest))
    return int(db.execute(stmt).rowcount or 0)


def cancel_own(db: Connection, item_id: int, state: str, now: datetime) -> int:
    """Cancel the pending rows of `state` itself, keeping the whole-item ones (a self-transition re-arms only those)."""
    stmt = (update(_deadlines)
            .where(_deadlines.c.item_id == item_id, _deadlines.c.state == state,
                   _deadlines.c.status == "pending", _deadlines.c.rule_index > ITEM_RULE)
            .values(status="cancelled", done_at=now))
    return int(db.execute(stmt).rowcount or 0)


def stop(db: Connection, item_id: int, rules: Sequence[SlaRule], state: str, now: datetime) -> int:
    """Cancel the pending rows of the whole-item limits whose `until` names `state` (the item reached it)."""
    stopped = [rule_index(rule.index) for rule in rules if state in rule.until]
    if not stopped:
        return 0
    stmt = (update(_deadlines)
            .where(_deadlines.c.item_id == item_id, _deadlines.c.status == "pending",
                   _deadlines.c.rule_index.in_(stopped))
            .values(status="cancelled", done_at=now))
    return int(db.execute(stmt).rowcount or 0)


def reception_note(received: datetime | None, now: datetime, tz: tzinfo) -> dict[str, Any]:
    """The creation row's RECEIVED marker of an item received before it was registered, else {}."""
    if received is None or received >= now:
        return {}
    return {RECEIVED: [None, received.astimezone(tz).isoformat()]}


def received_at(db: Connection, item_id: int) -> datetime | None:
    """When the call behind `item_id` came in: its creation row's RECEIVED marker, else its registration."""
    first = db.execute(select(_history.c.changes).where(
        _history.c.item_id == item_id, _history.c.kind == "transition", _history.c.from_state.is_(None),
    ).order_by(_history.c.id).limit(1)).scalar()
    marker = first.get(RECEIVED) if isinstance(first, dict) else None
    if isinstance(marker, list) and len(marker) == 2 and isinstance(marker[1], str):
        try:
            return datetime.fromisoformat(marker[1])
        except ValueError:
            pass  # not written by us: the registration time counts
    return db.execute(select(_items.c.created_at).where(_items.c.id == item_id)).scalar()
