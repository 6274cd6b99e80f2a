"""The item page as the engine decides it: what the actor sees of one item, masked or in full.

    item_page(session, item_id, actor, now=) -> ItemPage     raises ItemNotFound (also for an item not seen)

Visibility and masking are engine/access/visibility.py's answer: personal fields in full for
the roles of the workflow's `access.personal` held in the item's estate and for the people
assigned to the item; masked for everyone else, in the fields, the timeline and the links.
People (`user` fields) read as display names. `ItemPage.shows_personal` says whether the page
shows personal data in full: the caller then writes an access_log row (engine.org.audit.accessed,
kind 'view') in its own transaction, for each such view.

A bounded number of queries whatever the item's history: the item and its assignees, the
estate, the history, the names of the people named, the links, the role labels (and, for a
workflow with whole-item limits, the pending limits: engine/views/limits.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from engine.access import visibility
from engine.access.actor import Actor
from engine.language.definition import FieldDef, StateDef, WorkflowDefinition
from engine.runtime.items import ItemView, get_item
from engine.runtime.parties import display_names
from engine.runtime.registry import REGISTRY, Registry
from engine.views.limits import Limit, limits
from engine.views.listing import Choice, Row, choices, item_place, linked, role_labels, shown
from engine.views.timeline import Entry, timeline

__all__ = ["ItemPage", "Shown", "item_page"]


@dataclass(frozen=True, slots=True)
class Shown:
    """One field as the page shows it: `text` None when unset."""

    field: FieldDef
    text: str | None
    masked: bool = False
    """A personal value the actor sees masked."""


@dataclass(frozen=True, slots=True)
class ItemPage:
    """Everything the item page shows, decided for one actor."""

    item: ItemView
    definition: WorkflowDefinition
    state: StateDef | None
    estate_name: str
    timezone: str
    fields: tuple[Shown, ...]
    full: bool
    """Personal fields in full (by role in the estate, or assigned to the item)."""
    assigned: bool
    """A `user` field names the actor."""
    people: tuple[tuple[str, str], ...]
    """(field label, display name) of each person the item names: 责任人, 维修人员..."""
    choices: tuple[Choice, ...]
    timeline: tuple[Entry, ...]
    linked: tuple[tuple[str, Row], ...]
    limits: tuple[Limit, ...] = ()
    """With whole-item limits (`item_sla`): every pending limit, the state's and the whole item's."""

    @property
    def shows_personal(self) -> bool:
        """Whether the page shows personal data in full (then the view is written to the access log)."""
        return self.full and (any(s.field.personal and s.text for s in self.fields)
                              or any(e.personal for e in self.timeline))


def _fields(definition: WorkflowDefinition, values: dict[str, Any], tz: ZoneInfo, names: dict[str, str],
            full: bool) -> tuple[Shown, ...]:
    found = []
    for name, field in definition.fields.items():
        value = values.get(name)
        text = shown(field, value, tz, names, full=full) if value is not None else None
        found.append(Shown(field, text, masked=field.personal and not full and value is not None))
    return tuple(found)


def item_page(session: Session, item_id: int, actor: Actor, *, now: datetime,
              registry: Registry = REGISTRY) -> ItemPage:
    """The item page for `actor` (see the module docstring). Raises ItemNotFound."""
    item = get_item(session, item_id, actor, registry=registry)
    definition = registry.compiled(session, item.definition_id)
    estate_name, tz_name = item_place(session, item)
    tz = ZoneInfo(tz_name)
    placed = actor.at(item.estate_id)
    seen = visibility.sight(placed, definition, item.estate_id, item.department, item.assignees.values())
    values = dict(item.values)
    users = [(n, values[n]) for n, f in definition.fields.items() if f.type == "user" and values.get(n)]
    names = display_names(session, (v for _, v in users))
    people = tuple((definition.fields[n].label, names.get(str(v), "（未知人员）")) for n, v in users)
    return ItemPage(
        item=item, definition=definition, state=definition.states.get(item.state), estate_name=estate_name,
        timezone=tz_name, fields=_fields(definition, values, tz, names, seen.full), full=seen.full,
        assigned=seen.assigned, people=people,
        choices=tuple(choices(session, item, actor, now=now, registry=registry)),
        timeline=tuple(timeline(session, item, full=seen.full, registry=registry)),
        linked=tuple(linked(session, item, actor, now=now, registry=registry)),
        # Only a workflow with whole-item limits has two clocks to show; otherwise the status line's
        # deadline says it all (and the page reads no more).
        limits=limits(session, item.id, role_labels(session)) if definition.item_sla else (),
    )
