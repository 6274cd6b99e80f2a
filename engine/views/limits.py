"""The time limits the item page lists: the state's own and the whole item's (`item_sla:`).

    limits(session, item_id, labels) -> tuple[Limit, ...]     pending escalations, nearest first

The status line shows one deadline, the nearest. An item under a whole-item limit (a minor
complaint's 全程时限, an incident's reporting ladder) has two clocks, and staff must see both: the
state's limit ends when the item moves on, the whole item's keeps running across the states until
it is met (engine/runtime/item_limits.py). Both are item_deadlines rows; a whole-item row has a
negative rule_index. Warnings are left out (they are early reminders of these same limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.runtime import item_limits
from engine.store.models import ItemDeadline

__all__ = ["Limit", "limits"]


@dataclass(frozen=True, slots=True)
class Limit:
    """One pending limit: `whole` for a whole-item one (全程时限), else the current state's (本环节时限)."""

    whole: bool
    due_at: datetime
    roles: tuple[str, ...]
    """The labels of the roles told when it passes."""


def limits(session: Session, item_id: int, labels: Mapping[str, str]) -> tuple[Limit, ...]:
    """The item's pending escalations, nearest first (see the module docstring)."""
    rows = session.execute(
        select(ItemDeadline.rule_index, ItemDeadline.due_at, ItemDeadline.roles)
        .where(ItemDeadline.item_id == item_id, ItemDeadline.status == "pending", ItemDeadline.kind == "escalate")
        .order_by(ItemDeadline.due_at, ItemDeadline.id)).all()
    return tuple(Limit(item_limits.index_of(rule_index) is not None, due_at,
                       tuple(labels.get(r, r) for r in roles or ()))
                 for rule_index, due_at, roles in rows)
