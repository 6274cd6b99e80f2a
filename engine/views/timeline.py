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
from engine.files.attachments import AttachmentView, for_item
from engine.language import fields as fieldtypes
from engine.language.definition import WorkflowDefinition
from engine.runtime.countersign import SIGNED
from engine.runtime.item_limits import RECEIVED
from engine.runtime.items import ItemView
from engine.runtime.parties import display_names
from engine.runtime.registry import REGISTRY, Registry
from engine.runtime.timers import UNCOVERED, WAS_OVERDUE
from engine.views.listing import history, item_place, shown

__all__ = ["EVENT_LABELS", "Entry", "step_label", "timeline"]


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
    files: tuple[AttachmentView, ...] = ()
    """The files this step attached (the page links them; engine/views/attachments.py serves them)."""



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
    "resident_not_texted": "未发短信给业主",      # engine/runtime/resident_messages.py
    "resident_choice": "登记短信意愿",          # engine/runtime/resident_choices.py
    "migrated": "流程升级",                    # engine/runtime/item_migration.py
}
# What an event row records besides fields, in the staff's words.
_EVENT_KEYS = {"escalate_to": "通知角色", "reason": "原因", WAS_OVERDUE: "曾超时",
               UNCOVERED: "期限按工作日推算（节假日表未覆盖）", SIGNED: "会签", RECEIVED: "接待时间"}


_REFUSALS = {"guard_failed": "条件不满足", "invalid_fields": "缺少必填内容", "not_permitted": "无权执行",
             "unknown_transition": "当前状态下没有此操作", "conflict": "事项已被他人更新", "not_found": "事项不存在"}
"""Why a timer's transition was not fired (the refusal's code), in the staff's words."""


def step_label(definition: WorkflowDefinition, name: str | None, from_state: str | None, to_state: str | None,
               branch: int | None) -> str:
    """The label of the step a history row records: the entry that fired (`branch`, its index in
    `transitions`), else, for rows stored before branches were recorded, the entry of that name that
    best matches the row's from and to states (file order breaks ties)."""
    named = [t for t in definition.transitions if t.name == name]
    fired = next((t for t in named if t.index == branch), None) if branch is not None else None
    if fired is None and named:
        fired = max(named, key=lambda t: ((from_state in t.sources) + (t.dest == to_state), -t.index))
    return fired.label if fired is not None else (name or "操作")


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
    if key == RECEIVED:  # a spawned item's reception, ISO in the estate's time zone: "2026-03-02 09:00"
        return str(value)[:16].replace("T", " ")
    if key == SIGNED:  # the slot signed: "role:<id>" by the role's label, "user:<field>" as 指定人员
        kind, _, name = str(value).partition(":")
        return f"已签（{roles.get(name, name)}）" if kind == "role" else "已签（指定人员）"
    if key == "reason":
        return _REFUSALS.get(str(value), "未执行")
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _migrated(h: Any) -> Entry:
    """流程升级：第 3 版 → 第 4 版（待派单 → 待分派）: the old state's label is the one stored with the event."""
    c = h.changes or {}
    move = f"（{c.get('from_label') or h.from_state} → {c.get('to_label') or h.to_state}）"
    label = f"{EVENT_LABELS['migrated']}：第 {c.get('from_version')} 版 → 第 {c.get('to_version')} 版{move}"
    return Entry(h.at, h.actor_name, h.kind, label, None, None, (), h.comment)


def timeline(session: Session, item: ItemView, *, full: bool = False, registry: Registry = REGISTRY) -> list[Entry]:
    """The item's history, oldest first: who, when, which transition, what changed, the comment.

    `full`: personal values in full (the actor may see them: visibility.sight); masked otherwise.
    """
    definition = registry.compiled(session, item.definition_id)
    tz = ZoneInfo(item_place(session, item)[1])
    state_label = {s: st.label for s, st in definition.states.items()}
    roles = role_labels(session)
    rows = session.execute(select(history).where(history.c.item_id == item.id).order_by(history.c.id)).all()
    people = [v for h in rows for n, pair in (h.changes or {}).items()
              if n in definition.fields and definition.fields[n].type == "user" and isinstance(pair, list)
              for v in pair]
    names = display_names(session, people)
    attached: dict[int | None, list[AttachmentView]] = {}
    for file in for_item(session, item.id):
        if full or not (file.field in definition.fields and definition.fields[file.field].personal):
            attached.setdefault(file.history_id, []).append(file)  # a personal field's files: masked
    entries = []
    for h in rows:
        if h.from_state is None and h.kind == "transition":
            label = "登记"
        elif h.kind == "event" and h.event == "migrated":
            entries.append(_migrated(h))
            continue
        elif h.kind == "event":
            label = EVENT_LABELS.get(h.event or "", h.event or "事件")
        else:
            label = step_label(definition, h.transition, h.from_state, h.to_state, h.branch)
        changes = tuple(
            (definition.fields[n].label, _shown(definition, n, old, tz, names, full),
             _shown(definition, n, new, tz, names, full))
            if n in definition.fields else
            (_EVENT_KEYS.get(n, n), _event_value(n, old, roles), _event_value(n, new, roles))
            for n, (old, new) in (h.changes or {}).items()
        )
        personal = full and any(definition.fields[n].personal for n in (h.changes or {}) if n in definition.fields)
        entries.append(Entry(h.at, h.actor_name, h.kind, label, state_label.get(h.from_state or ""),
                             state_label.get(h.to_state or ""), changes, h.comment, personal,
                             tuple(attached.get(h.id, ()))))
    return entries
