"""The published versions of a workflow an estate's items can be on, with how many items each holds.

    versions(session, workflow_id, estate)                 every version, newest first (VersionRow)
    stored_version(session, workflow_id, estate, row_id)   one of them with its document, or None

An estate's items run on its own versions (the base merged with its overlay) or, when it has no overlay
or had none when they were registered, on the base ones, so both series are listed; `current` marks the
one new items get (REGISTRY.current). Open items are those not in a final state of the definition they
are pinned to: counted per definition and state in one query, the final states read from each version's
compiled definition (cached by the registry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.runtime.registry import BASE, REGISTRY, Registry
from engine.store.models import Item, WorkflowVersion

__all__ = ["StoredVersion", "VersionRow", "stored_version", "versions"]


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One published version: `estate_id` '' for a base version; `pinned_items` the estate's items on it,
    `open_items` those of them not finished; `current` whether new items of the estate get it."""

    id: int
    estate_id: str
    version: int
    published_at: datetime
    published_by: str | None
    comment: str | None
    content_hash: str
    pinned_items: int
    open_items: int
    current: bool


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A version's stored document (validated, overlay-merged JSON) with its number and series."""

    id: int
    estate_id: str
    version: int
    document: dict[str, Any]


def versions(session: Session, workflow_id: str, estate: str, *, registry: Registry = REGISTRY) -> list[VersionRow]:
    """Every version an item of (workflow, estate) can be on, newest first (by publication)."""
    rows = session.execute(
        select(WorkflowVersion.id, WorkflowVersion.estate_id, WorkflowVersion.version, WorkflowVersion.published_at,
               WorkflowVersion.published_by, WorkflowVersion.comment, WorkflowVersion.content_hash)
        .where(WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.estate_id.in_((estate, BASE)))
        .order_by(WorkflowVersion.published_at.desc(), WorkflowVersion.id.desc())
    ).all()
    if not rows:
        return []
    counts: dict[int, dict[str, int]] = {}
    for definition_id, state, n in session.execute(
            select(Item.definition_id, Item.state, func.count())
            .where(Item.workflow_id == workflow_id, Item.estate_id == estate)
            .group_by(Item.definition_id, Item.state)):
        counts.setdefault(definition_id, {})[state] = int(n)
    current = registry.current(session, workflow_id, estate)
    listed: list[VersionRow] = []
    for row in rows:
        by_state = counts.get(row.id, {})
        finished = 0
        if by_state:  # only versions holding items are compiled
            states = registry.compiled(session, row.id, row.content_hash).states
            finished = sum(n for s, n in by_state.items() if s in states and states[s].final)
        listed.append(VersionRow(row.id, row.estate_id, row.version, row.published_at, row.published_by, row.comment,
                                 row.content_hash, sum(by_state.values()), sum(by_state.values()) - finished,
                                 current is not None and current.id == row.id))
    return listed


def stored_version(session: Session, workflow_id: str, estate: str, row_id: int) -> StoredVersion | None:
    """Version `row_id` when it is one of `versions(session, workflow_id, estate)`, else None."""
    row = session.get(WorkflowVersion, row_id)
    if row is None or row.workflow_id != workflow_id or row.estate_id not in (estate, BASE):
        return None
    return StoredVersion(row.id, row.estate_id, row.version, dict(row.document))
