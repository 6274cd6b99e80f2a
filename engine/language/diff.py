"""What changed between two versions of a workflow, as text: the YAML of a stored version and a line diff.

    yaml_text(document)          a stored document as readable YAML (keys in the order the language lists them)
    text_diff(old, new)          the changed lines with 3 lines of context and both line numbers
    compare(old, new)            the summary by subject (engine/language/changes.py, re-exported here)

Pure, like the rest of the language: the versions page, the publish page (a draft against the live text)
and the command line use the same functions.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from engine.language.changes import SUBJECTS, Change, compare, grouped

__all__ = ["Change", "DiffLine", "SUBJECTS", "compare", "grouped", "text_diff", "yaml_text"]

CONTEXT = 3
"""Unchanged lines shown around each change."""

# The language's own key order (schemas/workflow.schema.json): PostgreSQL's JSONB keeps keys by length,
# so without it the same version would print differently on each database.
_ORDER: dict[str, tuple[str, ...]] = {
    "top": ("id", "title", "number_prefix", "create_roles", "access", "fields", "parameters", "calendar",
            "item_sla", "states", "transitions", "summary"),
    "state": ("label", "initial", "final", "paused", "sla", "timers", "on_linked"),
    "transition": ("name", "label", "from", "to", "roles", "when", "require", "require_new", "attach", "stay",
                   "countersign", "set", "actions"),
    "field": ("type", "label", "required", "personal", "options", "roles", "route", "max_size", "accept",
              "multiple"),
    "limit": ("when", "within", "by", "since", "until", "not_before", "calendar", "escalate_to", "fire", "warn"),
    "parameter": ("label", "type", "value"),
}


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a text diff: `kind` "same", "added", "removed", or "gap" (unchanged lines left out,
    `text` says how many); the line's numbers in the old and the new text (None where it is absent)."""

    kind: str
    old_line: int | None
    new_line: int | None
    text: str


class _Dumper(yaml.SafeDumper):
    """Lists of plain values inline (`roles: [a, b]`), as administrators write them; the rest in blocks."""


def _represent_list(dumper: _Dumper, data: Any) -> yaml.Node:
    flat = all(not isinstance(v, Mapping | list | tuple) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat and bool(data))


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(tuple, _represent_list)


def _ordered(value: Any, kind: str) -> Any:
    """A mapping with the keys the language knows for `kind` first, in its order; anything else as it is."""
    if not isinstance(value, Mapping):
        return value
    keys = _ORDER[kind]
    return {k: value[k] for k in [*(k for k in keys if k in value), *(k for k in value if k not in keys)]}


def _each(value: Any, kind: str) -> Any:
    """Every entry of a list, or every value of a mapping of names, ordered as `kind`."""
    if isinstance(value, list):
        return [_ordered(v, kind) for v in value]
    return {n: _ordered(v, kind) for n, v in value.items()} if isinstance(value, Mapping) else value


def _readable(document: Any) -> Any:
    top = _ordered(document, "top")
    if not isinstance(top, dict):
        return top
    for key, kind in (("fields", "field"), ("parameters", "parameter"), ("states", "state"),
                      ("transitions", "transition"), ("item_sla", "limit")):
        if key in top:
            top[key] = _each(top[key], kind)
    if isinstance(top.get("states"), dict):
        top["states"] = {n: {**s, "sla": _each(s["sla"], "limit")} if isinstance(s, dict) and "sla" in s else s
                         for n, s in top["states"].items()}
    return top


def yaml_text(document: Mapping[str, Any]) -> str:
    """A stored (JSON) document as YAML an administrator reads: Chinese as is, keys in the language's order."""
    return yaml.dump(_readable(document), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100,
                     default_flow_style=False)


def text_diff(old: str, new: str) -> tuple[DiffLine, ...]:
    """The lines that differ between two texts, with CONTEXT unchanged lines around each change and a "gap"
    line for each run left out; empty when the texts are the same."""
    a, b = (old or "").splitlines(), (new or "").splitlines()
    if a == b:
        return ()
    lines: list[DiffLine] = []
    shown = 0  # old lines accounted for so far, to count each gap
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(CONTEXT):
        if group[0][1] > shown:
            lines.append(DiffLine("gap", None, None, f"…… {group[0][1] - shown} 行未改变 ……"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [DiffLine("same", i + 1, j + 1, a[i]) for i, j in zip(range(i1, i2), range(j1, j2),
                                                                                   strict=True)]
            else:
                lines += [DiffLine("removed", i + 1, None, a[i]) for i in range(i1, i2)]
                lines += [DiffLine("added", None, j + 1, b[j]) for j in range(j1, j2)]
        shown = group[-1][2]
    if shown < len(a):
        lines.append(DiffLine("gap", None, None, f"…… {len(a) - shown} 行未改变 ……"))
    return tuple(lines)
