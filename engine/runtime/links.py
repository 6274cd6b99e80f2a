"""Reacting to a linked item: `on_linked` on a state (a complaint waiting on the repair it spawned).

    react(session, child, definition, now, fire=, registry=, calendars=)

When an item enters a state, each item that spawned it is looked at (item_links 'spawned_from'):
if that parent's current state lists `on_linked: [{workflow: <child's workflow>, reaches:
<the state entered, or final>, fire: <transition>}]`, the system fires that transition on the
parent, in the same database transaction as the child's step (so both happen or neither). The
first matching entry of the state fires. A reaction that is not possible now (its guard does
not hold) is skipped: the parent waits for staff as before, and the child's step still
succeeds. Reactions may chain (the parent's step may make its own parent react) up to
MAX_DEPTH levels; deeper ones are not fired, so a mistaken chain can never loop.
`fire` is engine/runtime/items.py's, passed in to keep this module below it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.clock import FixedClock
from engine.errors import GuardFailed, InvalidFields, UnknownTransition
from engine.language.definition import LinkReaction, WorkflowDefinition
from engine.runtime.registry import Registry
from engine.runtime.timers import Calendars
from engine.store import queries
from engine.store.models import ItemLink

__all__ = ["FINAL", "MAX_DEPTH", "react", "reactions"]

FINAL = "final"
"""`reaches: final`: any final state of the linked workflow."""
MAX_DEPTH = 4
_DEPTH: ContextVar[int] = ContextVar("estateflow_link_depth", default=0)


class _Child(Protocol):
    """What a reaction reads of the item that moved (an ItemView)."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def state(self) -> str: ...


def reactions(parent: WorkflowDefinition, state: str, child: WorkflowDefinition, reached: str) -> list[LinkReaction]:
    """The `on_linked` entries of the parent's `state` that a `child` item entering `reached` sets off."""
    final = child.states[reached].final if reached in child.states else False
    return [r for r in parent.states[state].on_linked
            if r.workflow == child.id and (r.reaches == reached or (r.reaches == FINAL and final))]


def react(session: Session, child: _Child, definition: WorkflowDefinition, now: datetime, *,
          fire: Callable[..., Any], registry: Registry, calendars: Calendars) -> None:
    """Fire the reactions of the items that spawned `child`, which has just entered `child.state`."""
    depth = _DEPTH.get()
    if depth >= MAX_DEPTH:
        return
    db = session.connection()
    parents = list(session.scalars(select(ItemLink.to_item_id).where(
        ItemLink.from_item_id == child.id, ItemLink.kind == "spawned_from")))
    for parent_id in parents:
        row = queries.item_row(db, parent_id)
        if row is None:
            continue
        parent = registry.compiled(session, row.definition_id, row.content_hash)
        found = reactions(parent, row.state, definition, child.state)
        if not found:
            continue
        label = definition.states[child.state].label
        token = _DEPTH.set(depth + 1)
        try:
            fire(session, parent_id, found[0].fire, Actor.system(), None, f"关联工单 {child.number} 进入「{label}」",
                 clock=FixedClock(now), registry=registry, calendars=calendars)
        except (GuardFailed, InvalidFields, UnknownTransition):
            # Refused before anything was written: the parent waits for staff, as without the reaction.
            pass
        finally:
            _DEPTH.reset(token)
