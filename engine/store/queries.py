"""The Core statements of the runtime's hot path, built once.

Firing a transition is one read, one version-checked update, one history insert
(plus outbox/spawn rows); these are plain Core statements on the tables, executed
through the caller's Session, so no ORM identity map or unit of work is involved.
Functions take the Connection of the caller's Session (`session.connection()`): executing
there skips the ORM's per-statement bookkeeping. They never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from engine.store.models import Counter, Estate, Item, ItemDeadline, ItemHistory, ItemLink, Outbox, WorkflowVersion

__all__ = [
    "add_deadlines", "add_history", "add_links", "add_outbox", "cancel_deadlines", "claim_deadline",
    "count_rows", "due_candidates", "earliest_due", "last_deadline_id", "next_due", "insert_item", "item_row",
    "item_version", "lock_item",
    "next_number", "pending_deadlines", "set_time_columns", "shift_deadline", "upcoming", "update_item",
]

items = cast(Table, Item.__table__)
history = cast(Table, ItemHistory.__table__)
outbox = cast(Table, Outbox.__table__)
links = cast(Table, ItemLink.__table__)
counters = cast(Table, Counter.__table__)
versions = cast(Table, WorkflowVersion.__table__)
estates = cast(Table, Estate.__table__)
deadlines = cast(Table, ItemDeadline.__table__)

_ITEM_ROW = (
    select(items, versions.c.content_hash, estates.c.timezone, estates.c.name.label("estate_name"))
    .join(versions, versions.c.id == items.c.definition_id)
    .join(estates, estates.c.id == items.c.estate_id)
    .where(items.c.id == bindparam("item_id"))
)
_ITEM_VERSION = select(items.c.version).where(items.c.id == bindparam("item_id"))
_MOVE: dict[str, Any] = {name: bindparam(f"new_{name}") for name in ("state", "data", "version", "updated_at")}
_ENTER: dict[str, Any] = {name: bindparam(f"new_{name}") for name in ("state_entered_at", "deadline_at", "overdue")}
_WHERE = (items.c.id == bindparam("item_id"), items.c.version == bindparam("seen"))
# Built once, with bound parameters: `.values(**kw)` per call would cost a cache-key walk every time.
_UPDATE_STAY = update(items).where(*_WHERE).values(_MOVE)
_UPDATE_ENTER = update(items).where(*_WHERE).values({**_MOVE, **_ENTER})
_INSERT_HISTORY = insert(history)
_INSERT_OUTBOX = insert(outbox)
_INSERT_LINK = insert(links)
_INSERT_ITEM = insert(items).returning(items.c.id)
_INSERT_DEADLINE = insert(deadlines)
_PENDING = deadlines.c.status == "pending"
_CANCEL = (
    update(deadlines)
    .where(deadlines.c.item_id == bindparam("of_item"), deadlines.c.state == bindparam("of_state"), _PENDING)
    .values(status="cancelled", done_at=bindparam("now"))
)
# The claim: of several tick workers exactly one sees rowcount 1 for a row.
_CLAIM = (
    update(deadlines).where(deadlines.c.id == bindparam("deadline_id"), _PENDING)
    .values(status="done", done_at=bindparam("now"))
)
_SHIFT = (
    update(deadlines).where(deadlines.c.id == bindparam("deadline_id"))
    .values(due_at=bindparam("new_due_at"), opens_at=bindparam("new_opens_at"))
)


def item_row(db: Connection, item_id: int) -> Row[Any] | None:
    """The item with its definition's content hash and its estate's time zone and name."""
    return db.execute(_ITEM_ROW, {"item_id": item_id}).first()


def item_version(db: Connection, item_id: int) -> int | None:
    """The item's current lock version (None: gone)."""
    return db.execute(_ITEM_VERSION, {"item_id": item_id}).scalar()


def update_item(db: Connection, item_id: int, seen: int, values: Mapping[str, Any]) -> bool:
    """`UPDATE items SET ... WHERE id = :id AND version = :seen`; False when the version moved on.

    `values` holds state, data, version, updated_at, and on entering a new state also
    state_entered_at, deadline_at and overdue.
    """
    statement = _UPDATE_ENTER if "state_entered_at" in values else _UPDATE_STAY
    params = {f"new_{key}": value for key, value in values.items()}
    result = db.execute(statement, {"item_id": item_id, "seen": seen, **params})
    return result.rowcount == 1


def add_history(db: Connection, row: Mapping[str, Any]) -> None:
    """Insert one history row (every column given)."""
    db.execute(_INSERT_HISTORY, dict(row))


def add_outbox(db: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert notification rows."""
    if rows:
        db.execute(_INSERT_OUTBOX, [dict(r) for r in rows])


def add_links(db: Connection, parent_id: int, child_id: int) -> None:
    """Link a spawned item both ways."""
    db.execute(_INSERT_LINK, [
        {"from_item_id": parent_id, "to_item_id": child_id, "kind": "spawned"},
        {"from_item_id": child_id, "to_item_id": parent_id, "kind": "spawned_from"},
    ])


def next_number(db: Connection, estate_id: str, prefix: str) -> str:
    """The next item number for (estate, prefix), e.g. TS-000123; safe under concurrency.

    One upsert with RETURNING: the row lock (PostgreSQL) or the write lock (SQLite)
    makes concurrent creations take distinct numbers, and the first one creates the row.
    """
    dialect = db.dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = builder(counters).values(estate_id=estate_id, prefix=prefix, value=1).on_conflict_do_update(
        index_elements=[counters.c.estate_id, counters.c.prefix], set_={"value": counters.c.value + 1}
    )
    value = db.execute(upsert.returning(counters.c.value)).scalar_one()
    return f"{prefix}-{value:06d}"


def insert_item(db: Connection, row: Mapping[str, Any]) -> int:
    """Insert an item row; returns its id."""
    result = db.execute(_INSERT_ITEM, dict(row))
    return int(result.scalar_one())


def count_rows(db: Connection, table: str, item_id: int | None = None) -> int:
    """How many rows a table holds (of one item, when given): for tests and scenario expectations."""
    target = {"item_history": history, "outbox": outbox, "items": items, "item_links": links,
              "item_deadlines": deadlines}[table]
    stmt = select(func.count()).select_from(target)
    if item_id is not None:
        key = {"item_links": "from_item_id", "items": "id"}.get(table, "item_id")
        column = target.c[key]
        stmt = stmt.where(column == item_id)
    return int(db.execute(stmt).scalar_one())


def add_deadlines(db: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert pending time events (item_deadlines rows, every column but id/status/done_at given)."""
    if rows:
        db.execute(_INSERT_DEADLINE, [{"status": "pending", "done_at": None, **r} for r in rows])


def cancel_deadlines(db: Connection, item_id: int, state: str, now: datetime) -> int:
    """Cancel the item's pending rows of `state` (it left the state); returns how many."""
    return int(db.execute(_CANCEL, {"of_item": item_id, "of_state": state, "now": now}).rowcount or 0)


def pending_deadlines(db: Connection, item_id: int, state: str) -> list[Row[Any]]:
    """The item's pending rows of `state`, earliest first."""
    # Sorted here, not in SQL: an ORDER BY due_at tempts SQLite into walking the
    # (status, due_at) index over every pending row instead of this item's few.
    stmt = select(deadlines).where(deadlines.c.item_id == item_id, _PENDING, deadlines.c.state == state)
    return sorted(db.execute(stmt), key=lambda row: (row.due_at, row.id))


def shift_deadline(db: Connection, deadline_id: int, due_at: datetime, opens_at: datetime | None) -> None:
    """Move one row (back from a pause)."""
    db.execute(_SHIFT, {"deadline_id": deadline_id, "new_due_at": due_at, "new_opens_at": opens_at})


def earliest_due(db: Connection, item_id: int, state: str, kind: str = "escalate") -> datetime | None:
    """The earliest pending `kind` due_at of the item's `state` (None: none left)."""
    return min((r.due_at for r in pending_deadlines(db, item_id, state) if r.kind == kind), default=None)


def set_time_columns(db: Connection, item_id: int, values: Mapping[str, Any]) -> None:
    """Update the time-limit columns of an item (never its version: events do not bump it)."""
    db.execute(update(items).where(items.c.id == item_id).values(**values))


# A row runs only while its item is in the row's state: a suspended row (its item left for a
# paused state) does not match the item's state, and in a paused state only timers run.
_RUNNABLE = (_PENDING, deadlines.c.state == items.c.state,
             or_(items.c.paused_since.is_(None), deadlines.c.kind == "timer"))


def last_deadline_id(db: Connection) -> int:
    """The highest item_deadlines id so far (0: none)."""
    return int(db.execute(select(func.coalesce(func.max(deadlines.c.id), 0))).scalar_one())


def due_candidates(db: Connection, now: datetime, limit: int, last_id: int | None = None) -> list[Row[Any]]:
    """Runnable pending rows due by `now` (and not newer than `last_id`), earliest first.

    Through ix_item_deadlines_status_due: the cost follows the rows due, not the items open.
    """
    newer = () if last_id is None else (deadlines.c.id <= last_id,)
    stmt = (
        select(deadlines.c.id, deadlines.c.item_id, deadlines.c.due_at)
        .join(items, items.c.id == deadlines.c.item_id)
        .where(*_RUNNABLE, deadlines.c.due_at <= now, *newer)
        .order_by(deadlines.c.due_at, deadlines.c.id)
        .limit(limit)
    )
    return list(db.execute(stmt))


def next_due(db: Connection, until: datetime) -> datetime | None:
    """The earliest due_at of a runnable pending row, if it is not after `until`."""
    stmt = (select(func.min(deadlines.c.due_at)).join_from(deadlines, items, items.c.id == deadlines.c.item_id)
            .where(*_RUNNABLE, deadlines.c.due_at <= until))
    return db.execute(stmt).scalar()


def lock_item(db: Connection, item_id: int) -> bool:
    """Lock the item row for this transaction (PostgreSQL; SKIP LOCKED: False when another holds it).

    On SQLite, BEGIN IMMEDIATE already serialises writers: this only checks the item exists.
    """
    stmt = select(items.c.id).where(items.c.id == item_id).with_for_update(skip_locked=True)
    return db.execute(stmt).first() is not None


def claim_deadline(db: Connection, deadline_id: int, now: datetime) -> Row[Any] | None:
    """Mark a pending row done; the row when this call claimed it, None when it was not pending."""
    locked = db.execute(
        select(deadlines).where(deadlines.c.id == deadline_id, _PENDING).with_for_update(skip_locked=True)
    ).first()
    if locked is None or db.execute(_CLAIM, {"deadline_id": deadline_id, "now": now}).rowcount != 1:
        return None
    return locked


def upcoming(db: Connection, until: datetime) -> list[Row[Any]]:
    """Pending escalations due by `until` of items in their state and not paused, with the item."""
    stmt = (
        select(deadlines.c.due_at, deadlines.c.roles, items.c.id.label("item_id"), items.c.number,
               items.c.state, items.c.estate_id, items.c.definition_id, items.c.overdue,
               estates.c.name.label("estate_name"), estates.c.timezone, versions.c.content_hash,
               versions.c.roles.label("role_labels"))
        .join(items, items.c.id == deadlines.c.item_id)
        .join(estates, estates.c.id == items.c.estate_id)
        .join(versions, versions.c.id == items.c.definition_id)
        .where(_PENDING, deadlines.c.kind == "escalate", deadlines.c.due_at <= until,
               and_(deadlines.c.state == items.c.state, items.c.paused_since.is_(None)))
        .order_by(items.c.estate_id, deadlines.c.due_at, items.c.id)
    )
    return list(db.execute(stmt))
