"""The item page's history: each row of item_history as staff read it, in Chinese.

    timeline(session, item, full=, registry=) -> [Entry]

Transitions show their label and the fields they changed (old → new), personal values
masked unless `full` (engine/access/visibility.py decides: the item page passes its
answer) and people by display name, never a login id; events
(escalations, warnings, skipped timers) show what they notified and why; a deadline
counted past the calendar's holiday list says so. Takes the
caller's Session and never commits; never imports flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.permissions import role_labels
from engine.language import fields as fieldtypes
from engine.language.definition import WorkflowDefinition
from engine.runtime.items import ItemView
from engine.runtime.parties import display_names
from engine.runtime.registry import REGISTRY, Registry
from engine.runtime.timers import UNCOVERED, WAS_OVERDUE
from engine.views.listing import history, item_place, shown

__all__ = ["EVENT_LABELS", "Entry", "timeline"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One history row as the timeline shows it."""

    at: datetime
    actor: str
    kind: str
    label: str
    from_label: str | None
    to_label: str | None
    changes: tuple[tuple[str, str, str], ...]
    """(field label, old display, new display)."""
    comment: str | None
    personal: bool = False
    """A personal value is among the changes, shown in full."""



def _shown(definition: WorkflowDefinition, name: str, raw: Any, tz: ZoneInfo, names: dict[str, str],
           full: bool) -> str:
    field_def = definition.fields.get(name)
    if field_def is None or raw is None:
        return "" if raw is None else str(raw)
    try:
        value = fieldtypes.from_json(field_def, raw)
    except (TypeError, ValueError):
        # An old value that no longer fits its field: shown as stored, unless it is personal.
        return "***" if field_def.personal and not full else str(raw)
    return shown(field_def, value, tz, names, full=full)


EVENT_LABELS = {
    "escalated": "超时升级",
    "warned": "时限预警",
    "timer_skipped": "定时操作未执行",
}
# What an event row records besides fields, in the staff's words.
_EVENT_KEYS = {"escalate_to": "通知角色", "reason": "原因", WAS_OVERDUE: "曾超时",
               UNCOVERED: "期限按工作日推算（节假日表未覆盖）"}


def _covered_until(value: Any) -> str:
    try:
        until = date.fromisoformat(str(value))
    except ValueError:
        return "节假日表未列出该期间"
    return f"节假日表只列到{until.year}年{until.month}月{until.day}日"


def _event_value(key: str, value: Any, roles: Mapping[str, str]) -> str:
    if value is None:
        return ""
    if key == "escalate_to" and isinstance(value, list):
        return "、".join(roles.get(str(role), str(role)) for role in value)
    if key == UNCOVERED:
        return _covered_until(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def timeline(session: Session, item: ItemView, *, full: bool = False, registry: Registry = REGISTRY) -> list[Entry]:
    """The item's history, oldest first: who, when, which transition, what changed, the comment.

    `full`: personal values in full (the actor may see them: visibility.sight); masked otherwise.
    """
    definition = registry.compiled(session, item.definition_id)
    tz = ZoneInfo(item_place(session, item)[1])
    labels = {t.name: t.label for t in definition.transitions}
    state_label = {s: st.label for s, st in definition.states.items()}
    roles = role_labels(session)
    rows = session.execute(select(history).where(history.c.item_id == item.id).order_by(history.c.id)).all()
    people = [v for h in rows for n, pair in (h.changes or {}).items()
              if n in definition.fields and definition.fields[n].type == "user" and isinstance(pair, list)
              for v in pair]
    names = display_names(session, people)
    entries = []
    for h in rows:
        if h.from_state is None and h.kind == "transition":
            label = "登记"
        elif h.kind == "event":
            label = EVENT_LABELS.get(h.event or "", h.event or "事件")
        else:
            label = labels.get(h.transition or "", h.transition or h.kind)
        changes = tuple(
            (definition.fields[n].label, _shown(definition, n, old, tz, names, full),
             _shown(definition, n, new, tz, names, full))
            if n in definition.fields else
            (_EVENT_KEYS.get(n, n), _event_value(n, old, roles), _event_value(n, new, roles))
            for n, (old, new) in (h.changes or {}).items()
        )
        personal = full and any(definition.fields[n].personal for n in (h.changes or {}) if n in definition.fields)
        entries.append(Entry(h.at, h.actor_name, h.kind, label, state_label.get(h.from_state or ""),
                             state_label.get(h.to_state or ""), changes, h.comment, personal))
    return entries
