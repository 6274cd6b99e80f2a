"""Routing tables: who a `user` field with `route:` starts filled in with, per estate.

`workflows/estates/<estate>/_routing.yaml` (a name starting with `_` in an estate folder is
not an overlay) maps, per route, a value to a username:

    routes:
      housekeeper: {by: building, to: {"1": housekeeper, "2": housekeeper}}
      dispatch:    {by: department, to: {engineering: engineering_lead}, default: cs_supervisor}

`by` is `building` (the building of the item's unit) or a field of the item. The table is
checked like a workflow (schemas/routing.schema.json, then meaning against the folder's
workflows), stored by `estateflow publish` (engine/runtime/routing.py) and read back with
`RoutingTable.of(document)`. Usernames are not checked here: the language layer has no users.

    RoutingTable.of(document) / table.user(route, values, building)    the compiled table
    problems(document, smap, workflows)                                 what is wrong with a file
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from engine.errors import Path, Problem
from engine.language import schema
from engine.language.schema import suggest
from engine.language.source import SourceMap

__all__ = ["BUILDING", "ROUTE_KEYS", "ROUTING_KEYS", "Route", "RoutingTable", "problems"]

BUILDING = "building"
"""`by: building`: the building of the item's unit."""
ROUTING_KEYS = frozenset({"routes"})
ROUTE_KEYS = frozenset({"by", "to", "default"})
SCHEMA = "routing.schema.json"


@dataclass(frozen=True, slots=True)
class Route:
    """One route: the value of `by` picks a username from `to`, else `default`."""

    by: str
    to: Mapping[str, str]
    default: str | None = None

    def user(self, values: Mapping[str, Any], building: str | None) -> str | None:
        """The username routed to for an item's `values` (and its unit's `building`), or None."""
        key = building if self.by == BUILDING else values.get(self.by)
        if key is not None and str(key) in self.to:
            return self.to[str(key)]
        return self.default


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """An estate's routes by name."""

    routes: Mapping[str, Route] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> RoutingTable:
        """The table of a checked (or stored) document; malformed entries are left out."""
        raw = document.get("routes")
        routes: dict[str, Route] = {}
        for name, spec in (raw.items() if isinstance(raw, Mapping) else ()):
            to = spec.get("to") if isinstance(spec, Mapping) else None
            if isinstance(spec, Mapping) and isinstance(spec.get("by"), str) and isinstance(to, Mapping):
                default = spec.get("default")
                routes[str(name)] = Route(spec["by"], MappingProxyType({str(k): str(v) for k, v in to.items()}),
                                          default if isinstance(default, str) else None)
        return cls(MappingProxyType(routes))

    def user(self, route: str, values: Mapping[str, Any], building: str | None) -> str | None:
        """The username `route` gives for an item, or None (no such route, nobody routed)."""
        found = self.routes.get(route)
        return found.user(values, building) if found is not None else None


def problems(document: Any, smap: SourceMap, workflows: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Every problem of a routing file: the schema's, then each route's `by` and `to` against the
    folder's workflow documents (by id)."""
    found = schema.validate(document, smap, SCHEMA)
    refused = {p.path for p in found}
    if isinstance(document, dict) and isinstance(document.get("routes"), dict):
        for name, spec in document["routes"].items():
            if isinstance(spec, dict):
                found += [p for p in _route_problems(str(name), spec, smap, workflows)
                          if not any(p.path[:n] in refused for n in range(1, len(p.path) + 1))]
    return sorted(set(found))


def _fields(workflows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Field name → {workflow id → its spec}, over every workflow."""
    result: dict[str, dict[str, Any]] = {}
    for workflow_id, document in workflows.items():
        found = document.get("fields")
        for name, spec in (found.items() if isinstance(found, dict) else ()):
            if isinstance(spec, dict):
                result.setdefault(name, {})[workflow_id] = spec
    return result


def _route_problems(name: str, spec: Mapping[str, Any], smap: SourceMap,
                    workflows: Mapping[str, Mapping[str, Any]]) -> Iterator[Problem]:
    path: Path = ("routes", name)
    by = spec.get("by")
    if not isinstance(by, str):
        return
    fields = _fields(workflows)
    if by != BUILDING and by not in fields:
        hint = suggest(by, [BUILDING, *fields])
        message = f"unknown field '{by}'{hint}: route by building or by a field of a workflow"
        yield smap.problem((*path, "by"), message, code="unknown_field")
        return
    yield from _users_of_route(name, by, smap, workflows)
    specs = fields.get(by, {}).values()
    options = {str(o) for s in specs for o in (s.get("options") or {})}
    to = spec.get("to")
    if by != BUILDING and specs and all(s.get("type") == "enum" for s in specs) and isinstance(to, dict):
        for key in to:
            if str(key) not in options:
                known = ", ".join(sorted(options))
                message = f"'{key}' is not an option of {by}{suggest(key, options)} (options: {known})"
                yield smap.problem((*path, "to", key), message, key=True, code="route")


def _users_of_route(name: str, by: str, smap: SourceMap,
                    workflows: Mapping[str, Mapping[str, Any]]) -> Iterator[Problem]:
    """A workflow whose field takes this route must have the field it routes by (or a unit, for building)."""
    for workflow_id, document in sorted(workflows.items()):
        found = document.get("fields")
        specs = found if isinstance(found, dict) else {}
        takers = [f for f, s in specs.items() if isinstance(s, dict) and s.get("route") == name]
        if not takers:
            continue
        if by == BUILDING:
            missing = not any(isinstance(s, dict) and s.get("type") == "unit" for s in specs.values())
            lacks = "no unit field, so no building"
        else:
            missing = by not in specs
            lacks = f"no field '{by}'"
        if missing:
            message = f"workflow '{workflow_id}' fills '{takers[0]}' by this route, but has {lacks}"
            yield smap.problem(("routes", name, "by"), message, code="route")
