"""Notification templates: plain text with `{name}` placeholders, nothing more.

`str.format` is not used: it would accept `{x.__class__}` or `{x[0]}` and walk into
the object. A placeholder here is a bare name; `{{` and `}}` write literal braces.
A name is a field of the workflow, or one of the item's own attributes
(ITEM_ATTRIBUTES), a field of the same name winning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ExpressionError
from engine.language.schema import suggest

__all__ = ["ITEM_ATTRIBUTES", "Template", "parse_template", "render"]

ITEM_ATTRIBUTES = {
    "number": "the item's number, e.g. TS-000123",
    "title": "the workflow's title",
    "state": "the current state's label",
    "estate": "the estate's name",
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Template:
    """A notification text with `{field}` placeholders only."""

    source: str
    placeholders: tuple[str, ...]

    def render(self, values: Mapping[str, Any]) -> str:
        """Fill each `{name}` from `values`; an unset value renders as empty."""
        return render(self, values)


def parse_template(source: str, known: Mapping[str, Any]) -> Template:
    """Check `source` and return the Template; `known` lists the allowed field names.

    Raises:
        ExpressionError: a placeholder is not a bare known name, or a brace is unbalanced.
    """
    placeholders: list[str] = []
    for match in _TOKEN.finditer(source):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise ExpressionError(f"unbalanced '{token}' (write '{token * 2}' for a literal brace)", match.start())
        name = match.group(1).strip()
        if not _NAME.match(name):
            raise ExpressionError(
                f"placeholder '{{{match.group(1)}}}' is not allowed: only {{field}} names, "
                "no attributes, indexes or formats",
                match.start(),
            )
        if name not in known and name not in ITEM_ATTRIBUTES:
            choices = [*known, *ITEM_ATTRIBUTES]
            raise ExpressionError(f"unknown field '{name}' in placeholder{suggest(name, choices)}", match.start())
        placeholders.append(name)
    return Template(source, tuple(dict.fromkeys(placeholders)))


def render(template: Template, values: Mapping[str, Any]) -> str:
    """Fill the placeholders from `values` (already display-ready strings or values)."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        value = values.get((match.group(1) or "").strip())
        return "" if value is None else str(value)

    return _TOKEN.sub(replace, template.source)
