"""The item page's history: each row of item_history as staff read it, in Chinese.

    timeline(session, item, registry=) -> [Entry]

Transitions show their label and the fields they changed (old → new); events
(escalations, warnings, skipped timers) show what they notified and why; a deadline
counted past the calendar's holiday list says so. Takes the
caller's Session and never commits; never imports flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access.permissions import role_labels
from engine.language import fields as fieldtypes
from engine.language.definition import WorkflowDefinition
from engine.runtime.items import ItemView
from engine.runtime.registry import REGISTRY, Registry
from engine.runtime.timers import UNCOVERED, WAS_OVERDUE
from engine.views.listing import history, item_place

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



def _shown(definition: WorkflowDefinition, name: str, raw: Any, tz: ZoneInfo) -> str:
    field_def = definition.fields.get(name)
    if field_def is None or raw is None:
        return "" if raw is None else str(raw)
    try:
        value = fieldtypes.from_json(field_def, raw)
    except (TypeError, ValueError):
        return str(raw)
    # Item pages show personal data to the staff who work the item; only lists mask it.
    return fieldtypes.display(replace(field_def, personal=False), value, tz)


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


def timeline(session: Session, item: ItemView, *, registry: Registry = REGISTRY) -> list[Entry]:
    """The item's history, oldest first: who, when, which transition, what changed, the comment."""
    definition = registry.compiled(session, item.definition_id)
    tz = ZoneInfo(item_place(session, item)[1])
    labels = {t.name: t.label for t in definition.transitions}
    state_label = {s: st.label for s, st in definition.states.items()}
    roles = role_labels(session)
    entries = []
    for h in session.execute(select(history).where(history.c.item_id == item.id).order_by(history.c.id)):
        if h.from_state is None and h.kind == "transition":
            label = "登记"
        elif h.kind == "event":
            label = EVENT_LABELS.get(h.event or "", h.event or "事件")
        else:
            label = labels.get(h.transition or "", h.transition or h.kind)
        changes = tuple(
            (definition.fields[n].label, _shown(definition, n, old, tz), _shown(definition, n, new, tz))
            if n in definition.fields else
            (_EVENT_KEYS.get(n, n), _event_value(n, old, roles), _event_value(n, new, roles))
            for n, (old, new) in (h.changes or {}).items()
        )
        entries.append(Entry(h.at, h.actor_name, h.kind, label, state_label.get(h.from_state or ""),
                             state_label.get(h.to_state or ""), changes, h.comment))
    return entries
