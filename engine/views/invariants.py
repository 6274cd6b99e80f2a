"""The invariants every item keeps, checked on a live database (`estateflow check`).

    violations(factory, estate=None, batch=500) -> Iterator[Violation]

For each item: its state is the target of its last transition row; its version is the
number of its transition rows (creation included) and VERSIONED_EVENTS rows; its pending deadlines belong to its
current state, or while paused to the state it paused from; it is in a paused state
exactly when a pause start is recorded; each spawn link, and each link a `link` action wrote
(linked/linked_from), has its link back; its recorded
assignees (item_assignees) are exactly the people its `user` fields name.

Items are read in batches by id (keyset, never OFFSET), each batch in a read
transaction of its own: a database of 100k items never sits in memory at once, and
each batch is one consistent snapshot, so a transition committed meanwhile by a live
server is not mistaken for a broken item. It only reads, and never names a field value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, case, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from engine.language.definition import WorkflowDefinition
from engine.runtime.registry import REGISTRY, Registry
from engine.store.models import Estate, ItemAssignee, User
from engine.store.queries import deadlines, history, items, links, versions

__all__ = ["BATCH", "Violation", "item_count", "violations"]

BATCH = 500
"""Items per batch: small enough for SQLite's parameter limits and a short snapshot."""
_BACK = {"spawned": "spawned_from", "spawned_from": "spawned", "linked": "linked_from", "linked_from": "linked"}
"""Each link kind and its way back: a `spawn` writes the first pair, a `link` action the second
(engine/runtime/item_refs.py)."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant of one item, in the CLI's words (ids, numbers and state ids only)."""

    item_id: int
    number: str
    estate_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.number} (estate {self.estate_id}, item id {self.item_id}): {self.problem}"


def item_count(factory: sessionmaker[Session], estate: str | None = None) -> int | None:
    """How many items there are (of `estate`); None when there is no such estate."""
    with factory() as session:
        stmt = select(func.count()).select_from(items)
        if estate is not None:
            if session.get(Estate, estate) is None:
                return None
            stmt = stmt.where(items.c.estate_id == estate)
        return int(session.execute(stmt).scalar_one())


def violations(factory: sessionmaker[Session], *, estate: str | None = None, batch: int = BATCH,
               registry: Registry = REGISTRY) -> Iterator[Violation]:
    """Every violation, item by item in id order (`estate`: only that estate's items)."""
    last = 0
    while True:
        with factory() as session:
            if session.get_bind().dialect.name == "postgresql":
                # One snapshot for the batch's few statements (SQLite's read transaction is one already).
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            stmt = (select(items.c.id, items.c.number, items.c.estate_id, items.c.state, items.c.version,
                           items.c.paused_since, items.c.paused_from, items.c.definition_id,
                           items.c.data, versions.c.content_hash)
                    .join(versions, versions.c.id == items.c.definition_id)
                    .where(items.c.id > last).order_by(items.c.id).limit(batch))
            if estate is not None:
                stmt = stmt.where(items.c.estate_id == estate)
            rows = session.execute(stmt).all()
            if not rows:
                return
            found = list(_check(session, rows, registry))
        yield from found
        last = rows[-1].id


def _check(session: Session, rows: Sequence[Row[Any]], registry: Registry) -> Iterator[Violation]:
    # The batch's ids, not an id range: with --estate, a range would sweep other estates' rows too.
    ids = [row.id for row in rows]
    transitions = _transitions(session, ids)
    pending = _pending_states(session, ids)
    one_way = _one_way_links(session, ids)
    assigned = _assignees(session, ids)
    for row in rows:
        definition = registry.compiled(session, row.definition_id, row.content_hash)
        for problem in _problems(row, definition, transitions.get(row.id), pending.get(row.id, set()),
                                 one_way.get(row.id, [])):
            yield Violation(row.id, row.number, row.estate_id, problem)
        for problem in _assignee_problems(row, definition, assigned.get(row.id, {})):
            yield Violation(row.id, row.number, row.estate_id, problem)


def _problems(row: Row[Any], definition: WorkflowDefinition, transitions: tuple[int, str | None] | None,
              pending: set[str], one_way: list[tuple[int, str]]) -> Iterator[str]:
    count, target = transitions or (0, None)
    if count == 0:
        yield "has no transition row in its history"
    elif target != row.state:
        yield f"state is '{row.state}' but its last transition went to '{target}'"
    if count and row.version != count:
        yield f"version is {row.version} but its history has {count} transition row(s)"
    spec = definition.states.get(row.state)
    if spec is None:
        yield f"state '{row.state}' is not a state of its workflow definition ({definition.id})"
    elif spec.paused and row.paused_since is None:
        yield f"is in the paused state '{row.state}' but no pause start (paused_since) is recorded"
    elif not spec.paused and row.paused_since is not None:
        yield f"has a pause start (paused_since) but state '{row.state}' is not a paused state"
    allowed = {row.state} | ({row.paused_from} if row.paused_since is not None and row.paused_from else set())
    for state in sorted(pending - allowed):
        yield (f"has pending deadlines of state '{state}', which is neither its current state '{row.state}'"
               + (" nor the state it paused from" if row.paused_since is not None else ""))
    for other, kind in one_way:
        yield f"links to item id {other} as '{kind}' but that item has no '{_BACK[kind]}' link back"


VERSIONED_EVENTS = ("handover", "anonymised", "migrated")
"""Events that change an item's data outside a step, so bump its version too (engine/runtime/handover.py,
engine/org/privacy.py): a form opened before them is refused as stale. Counted with the transition rows;
they stay in the item's state, so the last row's target is unchanged ("migrated",
engine/runtime/item_migration.py, renames the state: its target is the new name)."""


def _transitions(session: Session, ids: list[int]) -> dict[int, tuple[int, str | None]]:
    """item id → (number of transition rows and version-bumping events, target of the last one)."""
    is_transition = (or_(history.c.kind == "transition", history.c.event.in_(VERSIONED_EVENTS)),
                     history.c.item_id.in_(ids))
    per_item = (select(history.c.item_id, func.count().label("n"), func.max(history.c.id).label("last_id"))
                .where(*is_transition).group_by(history.c.item_id).subquery())
    stmt = select(per_item.c.item_id, per_item.c.n, history.c.to_state).join(
        history, history.c.id == per_item.c.last_id)
    return {r.item_id: (int(r.n), r.to_state) for r in session.execute(stmt)}


def _pending_states(session: Session, ids: list[int]) -> dict[int, set[str]]:
    """item id → the states its pending deadlines belong to."""
    stmt = (select(deadlines.c.item_id, deadlines.c.state).distinct()
            .where(deadlines.c.status == "pending", deadlines.c.item_id.in_(ids)))
    found: dict[int, set[str]] = {}
    for r in session.execute(stmt):
        found.setdefault(r.item_id, set()).add(r.state)
    return found


def _one_way_links(session: Session, ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """item id → its spawn and `link` links (other item, kind) that have no link back."""
    back = links.alias("back")
    opposite = case(*((links.c.kind == kind, back_kind) for kind, back_kind in _BACK.items()))
    stmt = (select(links.c.from_item_id, links.c.to_item_id, links.c.kind)
            .where(links.c.kind.in_(tuple(_BACK)), links.c.from_item_id.in_(ids),
                   ~exists().where(back.c.from_item_id == links.c.to_item_id,
                                   back.c.to_item_id == links.c.from_item_id, back.c.kind == opposite))
            .order_by(links.c.from_item_id, links.c.to_item_id))
    found: dict[int, list[tuple[int, str]]] = {}
    for r in session.execute(stmt):
        found.setdefault(r.from_item_id, []).append((r.to_item_id, r.kind))
    return found


def _assignees(session: Session, ids: list[int]) -> dict[int, dict[str, str]]:
    """item id → {user field: the username item_assignees records}."""
    stmt = (select(ItemAssignee.item_id, ItemAssignee.field, User.username)
            .join(User, User.id == ItemAssignee.user_id).where(ItemAssignee.item_id.in_(ids)))
    found: dict[int, dict[str, str]] = {}
    for r in session.execute(stmt):
        found.setdefault(r.item_id, {})[r.field] = r.username
    return found


def _assignee_problems(row: Row[Any], definition: WorkflowDefinition, recorded: dict[str, str]) -> Iterator[str]:
    """Each `user` field whose value and recorded assignee differ (named by field id, never by value)."""
    data = row.data or {}
    named = {name: data.get(name) for name, field in definition.fields.items()
             if field.type == "user" and data.get(name) is not None}
    for name in sorted(set(named) | set(recorded)):
        if named.get(name) != recorded.get(name):
            yield f"its user field '{name}' and its recorded assignee (item_assignees) do not agree"
