"""Checks on what staff read of a workflow: the field lists show as each item's main text (`summary`).

A `when`'s label (`when: {if: ..., label: ...}`) needs no rule here: the schema requires both
keys and the label's shape, and the compiler checks the expression under `if`.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import Problem
from engine.language.check_context import Context
from engine.language.schema import suggest

__all__ = ["SUMMARY_TYPES", "summary_field"]

SUMMARY_TYPES = frozenset({"string", "text"})
"""A list shows the summary as a line of text: a number, a date or a person is not the item's main text."""


def summary_field(ctx: Context) -> Iterator[Problem]:
    """`summary` names a string or text field of the workflow."""
    name = ctx.document.get("summary")
    if not isinstance(name, str):
        return  # absent (the default applies), or the schema already refused it
    fields = ctx.fields
    if name not in fields:
        yield ctx.smap.problem(("summary",), f"unknown field '{name}'{suggest(name, fields)}", code="unknown_field")
        return
    kind = fields[name].get("type") if isinstance(fields[name], dict) else None
    if kind not in SUMMARY_TYPES:
        texts = [n for n, f in fields.items() if isinstance(f, dict) and f.get("type") in SUMMARY_TYPES]
        yield ctx.smap.problem(("summary",), f"field '{name}' is a {kind} field: the summary is a string or "
                               f"text field ({', '.join(texts) or 'this workflow has none'})", code="summary")
