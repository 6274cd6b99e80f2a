"""What the item page shows of a step's records: log fields' entries and countersigns in progress.

    step_records(session, item, definition, full=) -> StepRecords
    countersign_choices(session, item, definition, actor, choices) -> the choices, a signed step closed

`logs`: each `log` field (跟进记录) with its entries, newest first, each with who and when
(engine/runtime/logs.py writes them); personal logs are masked unless the viewer sees personal
data in full. `countersigns`: for each countersigned step leaving the item's state, who has
signed since the item entered it (engine/runtime/countersign.py) and who is still awaited, by
role label or by the person a `user` field names. web/items.py passes them to the item page's
partials items/_log.html and items/_countersign.html.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.access.permissions import role_labels
from engine.language import fields
from engine.language.definition import WorkflowDefinition
from engine.runtime import countersign
from engine.runtime.items import ItemView
from engine.runtime.parties import display_names

__all__ = ["LogEntry", "LogSection", "Signing", "StepRecords", "countersign_choices", "step_records"]

_C = TypeVar("_C")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a log field."""

    text: str
    by: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class LogSection:
    """A log field with its entries, newest first."""

    label: str
    entries: tuple[LogEntry, ...]


@dataclass(frozen=True, slots=True)
class Signing:
    """A countersigned step: who signed (slot label, name, when) and which slots are awaited."""

    label: str
    signed: tuple[tuple[str, str, datetime], ...]
    awaited: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepRecords:
    """What the item page's partials show."""

    logs: tuple[LogSection, ...] = ()
    countersigns: tuple[Signing, ...] = ()


def _when(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _logs(definition: WorkflowDefinition, item: ItemView, full: bool) -> tuple[LogSection, ...]:
    sections = []
    for name, field in definition.fields.items():
        value = item.values.get(name)
        if field.type != "log" or not isinstance(value, list) or not value:
            continue
        entries = tuple(LogEntry(str(e.get("text", "") if full else fields.mask(field, e.get("text", ""))),
                                 str(e.get("by", "")), _when(str(e.get("at", ""))))
                        for e in reversed(value) if isinstance(e, dict))
        sections.append(LogSection(field.label, entries))
    return tuple(sections)


def _slot_label(definition: WorkflowDefinition, slot: str, roles: dict[str, str], people: dict[str, str],
                item: ItemView) -> str:
    kind, _, name = slot.partition(":")
    if kind == "role":
        return roles.get(name, name)
    field = definition.fields.get(name)
    person = item.values.get(name)
    who = people.get(str(person), "未指定") if person is not None else "未指定"
    return f"{field.label if field else name}（{who}）"


def _countersigns(session: Session, definition: WorkflowDefinition, item: ItemView) -> tuple[Signing, ...]:
    steps = [t for t in definition.transitions_from(item.state) if t.countersign is not None]
    if not steps:
        return ()
    roles = role_labels(session)
    people = display_names(session, (item.values.get(f) for t in steps for f in
                                     (t.countersign.users if t.countersign is not None else ())))
    stays = frozenset(t.name for t in definition.transitions_from(item.state) if t.stay)
    found = []
    for step in {t.name: t for t in steps}.values():
        signed = countersign.signatures(session, item.id, step.name, item.state, stays)
        taken = {s.slot for s in signed}
        found.append(Signing(
            step.label,
            tuple((_slot_label(definition, s.slot, roles, people, item), s.actor_name, s.at) for s in signed),
            tuple(_slot_label(definition, slot, roles, people, item)
                  for slot in countersign.slots(step) if slot not in taken),
        ))
    return tuple(found)


def step_records(session: Session, item: ItemView, definition: WorkflowDefinition, *, full: bool) -> StepRecords:
    """The log entries and the countersigns in progress of one item, for its page."""
    return StepRecords(_logs(definition, item, full), _countersigns(session, definition, item))


def countersign_choices(session: Session, item: ItemView, definition: WorkflowDefinition, actor: Actor,
                        choices: Sequence[_C]) -> list[_C]:
    """The item page's choices (engine/views/listing.py Choice), with a countersigned step the actor
    cannot sign now (signed already, or no place left for them) offered as closed, with the reason."""
    result: list[_C] = []
    for choice in choices:
        c: Any = choice
        step = next((t for t in definition.transitions_from(item.state, c.name) if t.countersign is not None), None)
        if c.fireable and step is not None and not actor.is_system:
            slot, reason, _ = countersign.open_slot(session, item.id, item.state, definition, step, actor,
                                                    item.values)
            if slot is None:
                choice = replace(c, fireable=False, fields=(), reasons=(reason,), required=())
        result.append(choice)
    return result
