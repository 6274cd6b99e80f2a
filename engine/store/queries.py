"""The Core statements of the runtime's hot path, built once.

Firing a transition is one read, one version-checked update, one history insert
(plus outbox/spawn rows); these are plain Core statements on the tables, executed
through the caller's Session, so no ORM identity map or unit of work is involved.
Functions take the Connection of the caller's Session (`session.connection()`): executing
there skips the ORM's per-statement bookkeeping. They never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from engine.store.models import Counter, Estate, Item, ItemHistory, ItemLink, Outbox, WorkflowVersion

__all__ = [
    "add_history", "add_links", "add_outbox", "count_rows", "insert_item", "item_row", "item_version",
    "next_number", "update_item",
]

items = cast(Table, Item.__table__)
history = cast(Table, ItemHistory.__table__)
outbox = cast(Table, Outbox.__table__)
links = cast(Table, ItemLink.__table__)
counters = cast(Table, Counter.__table__)
versions = cast(Table, WorkflowVersion.__table__)
estates = cast(Table, Estate.__table__)

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
    target = {"item_history": history, "outbox": outbox, "items": items, "item_links": links}[table]
    stmt = select(func.count()).select_from(target)
    if item_id is not None:
        key = {"item_links": "from_item_id", "items": "id"}.get(table, "item_id")
        column = target.c[key]
        stmt = stmt.where(column == item_id)
    return int(db.execute(stmt).scalar_one())
