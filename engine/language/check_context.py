"""What the semantic checks read: a document with its SourceMap, the catalogue and its neighbours.

    Context(document, smap, roles, workflows=, departments=, routes=)   one file's rules read this
    listed(value) / strings(value) / role_lists(ctx)                    safe views of what may be malformed

Shared by engine/language/checks.py (the workflow's structure) and checks_people.py (who:
roles, people, access), so each rule module stays small.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import Path
from engine.language.source import SourceMap

__all__ = ["Context", "listed", "role_lists", "strings"]


@dataclass(frozen=True)
class Context:
    """What every rule reads."""

    document: Mapping[str, Any]
    smap: SourceMap
    roles: Mapping[str, str]
    workflows: Mapping[str, Mapping[str, Any]] | None = None
    """Other workflows' documents by id, when known, to check `spawn`."""
    departments: Mapping[str, str] | None = None
    """Executor role → department (roles.yaml), to check `access.department`."""
    routes: frozenset[str] | None = None
    """The route names of the folder's routing files; None: not known, not checked."""

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.document.get(key)
        return {k: v for k, v in value.items() if isinstance(v, dict)} if isinstance(value, dict) else {}

    @property
    def states(self) -> dict[str, Any]:
        return self.mapping("states")

    @property
    def fields(self) -> dict[str, Any]:
        return self.mapping("fields")

    def transitions(self) -> Iterator[tuple[int, dict[str, Any]]]:
        value = self.document.get("transitions")
        if isinstance(value, list):
            for index, entry in enumerate(value):
                if isinstance(entry, dict):
                    yield index, entry

    def sources(self, transition: Mapping[str, Any]) -> list[tuple[Path, str]]:
        """The states a transition leaves, each with the path it was written at."""
        value = transition.get("from")
        if value == "*":
            return [((), name) for name, state in self.states.items() if state.get("final") is not True]
        if isinstance(value, str):
            return [(("from",), value)]
        if isinstance(value, list):
            return [(("from", i), v) for i, v in enumerate(value) if isinstance(v, str)]
        return []


def listed(value: Any) -> list[Any]:
    """`value` when it is a list; [] for anything the schema will already have refused."""
    return value if isinstance(value, list) else []


def strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []


def role_lists(ctx: Context) -> Iterator[tuple[Path, Any]]:
    yield ("create_roles",), ctx.document.get("create_roles")
    for name, field in ctx.fields.items():
        yield ("fields", name, "roles"), field.get("roles")
    access = ctx.document.get("access")
    if isinstance(access, dict):
        yield ("access", "see"), access.get("see")
        yield ("access", "personal"), access.get("personal")
    for name, state in ctx.states.items():
        for i, rule in enumerate(listed(state.get("sla"))):
            if isinstance(rule, dict):
                yield ("states", name, "sla", i, "escalate_to"), rule.get("escalate_to")
    for index, transition in ctx.transitions():
        yield ("transitions", index, "roles"), transition.get("roles")
        for a, action in enumerate(listed(transition.get("actions"))):
            if isinstance(action, dict) and isinstance(action.get("notify"), dict):
                yield ("transitions", index, "actions", a, "notify", "roles"), action["notify"].get("roles")
