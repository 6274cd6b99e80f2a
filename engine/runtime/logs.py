"""Append-only log fields (`type: log`, 跟进记录): each text given adds an entry, never overwrites.

    append(definition, stored, given, by=, at=)  -> the log fields' new values (stored entries + one)
    new_entries(definition, old, new)             -> history `changes` for the log fields: only the entry added

A log field's value is a list of entries {text, by, at}: `by` is the acting person's display
name, `at` the moment in UTC (ISO 8601). `fields.parse` turns a submitted text into the new
entry's text; the runtime adds who and when here, for `create` and `fire` alike. `set` and
`spawn.copy` of a log field are refused by validate (engine/language/checks_steps.py), so
nothing else ever writes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from engine.language.definition import WorkflowDefinition

__all__ = ["LOG", "append", "new_entries"]

LOG = "log"


def append(definition: WorkflowDefinition, stored: Mapping[str, Any], given: Mapping[str, Any], *, by: str,
           at: datetime) -> dict[str, list[dict[str, str]]]:
    """The new value of each log field given a text in this step: the stored entries, then the new one."""
    result: dict[str, list[dict[str, str]]] = {}
    for name, field in definition.fields.items():
        text = given.get(name)
        if field.type != LOG or not isinstance(text, str) or not text.strip():
            continue
        before = stored.get(name)
        entries = list(before) if isinstance(before, list) else []
        entries.append({"text": text.strip(), "by": by, "at": at.astimezone(UTC).isoformat()})
        result[name] = entries
    return result


def new_entries(definition: WorkflowDefinition, old: Mapping[str, Any],
                new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """History changes for log fields: [None, [the entries added]], not the whole log again."""
    result: dict[str, list[Any]] = {}
    for name, field in definition.fields.items():
        if field.type != LOG:
            continue
        before, after = old.get(name) or [], new.get(name) or []
        if isinstance(after, list) and len(after) > len(before):
            result[name] = [None, after[len(before):]]
    return result
