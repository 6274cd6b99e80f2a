"""The `link` action: tie an item to an existing item of another workflow that a field names by number.

    - link: {workflow: notice, number: notice_ref, states: [published]}

When the transition fires, the field `number` holds an item number as staff read it off the
board or the app (`GG-000012`); the item must be of `workflow`, in the same estate, and in one of
`states` (all states when none are listed). Otherwise the step is refused with the field named
(InvalidFields), before anything is written. The link is written both ways ('linked' from this
item, 'linked_from' on the other), so each item page lists the other. Intake uses it so that a
call about an outage already announced by a published notice is closed as covered by it instead
of opening one complaint per caller (domain-review.md §3 row 8, §5 item 10).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from engine.errors import InvalidFields
from engine.language.definition import Action, LinkAction
from engine.runtime.registry import Registry
from engine.store.models import Item, ItemLink

__all__ = ["LINK_KINDS", "find", "normalise_number", "plan"]

LINK_KINDS = {"linked": "关联到", "linked_from": "被关联"}
"""The link kinds this action writes, with the words the item page shows."""


def normalise_number(raw: object) -> str:
    """An item number as stored: blanks trimmed, letters upper-case, a full-width hyphen made plain."""
    return str(raw).strip().replace("－", "-").replace("—", "-").upper()


def find(session: Session, registry: Registry, action: LinkAction, estate_id: str, raw: object) -> int:
    """The id of the item `raw` names for `action`, or InvalidFields naming the field."""
    number = normalise_number(raw)
    current = registry.current(session, action.workflow, estate_id)
    title = current.definition.title if current is not None else action.workflow
    row = session.execute(select(Item.id, Item.state).where(
        Item.estate_id == estate_id, Item.workflow_id == action.workflow, Item.number == number)).first()
    if row is None:
        raise InvalidFields({action.number_field: f"本小区没有编号为 {number} 的{title}"})
    if action.states and row.state not in action.states:
        labels = [current.definition.states[s].label if current is not None and s in current.definition.states else s
                  for s in action.states]
        raise InvalidFields({action.number_field: f"{title} {number} 当前不在以下状态：{'、'.join(labels)}"})
    return int(row.id)


def plan(session: Session, item_id: int, estate_id: str, values: Mapping[str, Any], action: Action,
         registry: Registry) -> Callable[[Session], None]:
    """Check the link now; return the writer that stores it (runs after the item's update)."""
    assert isinstance(action, LinkAction)
    raw = values.get(action.number_field)
    if raw is None or not str(raw).strip():
        raise InvalidFields({action.number_field: "必填"})
    other = find(session, registry, action, estate_id, raw)

    def write(session: Session) -> None:
        session.connection().execute(insert(cast(Table, ItemLink.__table__)), [
            {"from_item_id": item_id, "to_item_id": other, "kind": "linked"},
            {"from_item_id": other, "to_item_id": item_id, "kind": "linked_from"},
        ])

    return write
