"""Semantic checks of `file` fields (photos and documents attached to an item).

A file field's value is the list of its attachments, added by a person in a step's form:
nothing computes it, so `set` never names it, and `spawn` does not copy it (the files stay
with the item that received them; the spawned item links back to it). Its own keys
(`max_size`, `accept`, `multiple`) mean nothing on another type.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import Problem
from engine.language.check_context import Context, listed, strings
from engine.language.schema import suggest

__all__ = ["file_fields"]

FILE_KEYS = ("max_size", "accept", "multiple")
LARGEST = 50 * 1024 * 1024
"""No site-wide setting raises a field above 50MB: a bigger file belongs in a document system."""


def _files(ctx: Context) -> set[str]:
    return {name for name, field in ctx.fields.items() if field.get("type") == "file"}


def file_fields(ctx: Context) -> Iterator[Problem]:
    """File keys only on file fields; `attach` names file fields; a file field is neither `set` nor copied
    by `spawn`; sizes stay sane."""
    files = _files(ctx)
    for name, field in ctx.fields.items():
        for key in FILE_KEYS:
            if key in field and field.get("type") != "file":
                yield ctx.smap.problem(("fields", name, key), f"only a file field has '{key}'", key=True,
                                       code="file_field")
        size = field.get("max_size")
        if name in files and isinstance(size, str) and size.endswith("MB") and size[:-2].isdigit() \
                and int(size[:-2]) * 1024 * 1024 > LARGEST:
            yield ctx.smap.problem(("fields", name, "max_size"), f"{size} is too large for an attachment "
                                   "(at most 50MB)", code="file_field")
    for index, transition in ctx.transitions():
        for i, named in strings(transition.get("attach")):
            if named not in ctx.fields:
                yield ctx.smap.problem(("transitions", index, "attach", i),
                                       f"unknown field '{named}'{suggest(named, ctx.fields)}", code="unknown_field")
            elif named not in files:
                yield ctx.smap.problem(("transitions", index, "attach", i), f"'{named}' is not a file field: "
                                       "'attach' offers file fields (put other fields in 'require')",
                                       code="file_field")
    if not files:
        return
    for index, transition in ctx.transitions():
        assigned = transition.get("set")
        for target in (assigned if isinstance(assigned, dict) else {}):
            if target in files:
                yield ctx.smap.problem(("transitions", index, "set", target), f"'{target}' is a file field: "
                                       "files are attached in the step's form, never set", key=True,
                                       code="file_field")
        for a, action in enumerate(listed(transition.get("actions"))):
            spawn = action.get("spawn") if isinstance(action, dict) else None
            for i, copied in strings(spawn.get("copy") if isinstance(spawn, dict) else None):
                if copied in files:
                    yield ctx.smap.problem(("transitions", index, "actions", a, "spawn", "copy", i),
                                           f"'{copied}' is a file field: files stay with their item and are "
                                           "not copied (the spawned item links back to it)", code="file_field")
