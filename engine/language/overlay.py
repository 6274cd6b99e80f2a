"""Per-estate overlays: a partial document merged onto a base workflow.

`workflows/estates/<estate>/<workflow id>.yaml` adds or overrides keys of the base:
states and fields by key, transitions by (name, from); mappings merge, lists and scalars
are replaced, and `remove: true` deletes an entry; `parameters: {id: value}` sets a base
parameter's value (engine/language/parameters.py). The result is validated like any
definition, with a SourceMap whose positions point at the overlay's lines for whatever
the overlay wrote and at the base's lines for the rest.
"""

from __future__ import annotations

from typing import Any

from engine.errors import Path, Problem
from engine.language.schema import suggest
from engine.language.source import SourceMap


def _from_key(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(sorted(str(v) for v in value))
    return value


def _merge(base: Any, bpath: Path, bmap: SourceMap, over: Any, opath: Path, omap: SourceMap,
           out: Path, smap: SourceMap) -> Any:
    """Merge `over` onto `base` (mappings recursively), recording where each part came from."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        smap.copy_subtree(omap, opath, out)
        return over
    smap.values[out] = omap.position(opath)
    result: dict[str, Any] = {}
    for key, value in base.items():
        if key not in over:
            result[key] = value
            smap.copy_subtree(bmap, (*bpath, key), (*out, key))
    for key, value in over.items():
        if key in base:
            smap.keys[(*out, key)] = omap.position((*opath, key), key=True)
            result[key] = _merge(base[key], (*bpath, key), bmap, value, (*opath, key), omap, (*out, key), smap)
        else:
            result[key] = value
            smap.copy_subtree(omap, (*opath, key), (*out, key))
    return result


def _is_removal(value: Any) -> bool:
    return isinstance(value, dict) and value.get("remove") is True


class _Merger:
    def __init__(self, base: dict[str, Any], bmap: SourceMap, over: dict[str, Any], omap: SourceMap) -> None:
        self.base, self.bmap, self.over, self.omap = base, bmap, over, omap
        self.smap = SourceMap(bmap.file)
        self.problems: list[Problem] = []

    def by_key(self, section: str) -> dict[str, Any]:
        found = self.base.get(section)
        base: dict[str, Any] = found if isinstance(found, dict) else {}
        over = self.over[section]
        if not isinstance(over, dict):
            self.problems.append(self.omap.problem((section,), "must be a mapping (key: value)", code="type"))
            return base
        self.smap.values[(section,)] = self.omap.position((section,))
        result: dict[str, Any] = {}
        for name, value in base.items():
            if name in over and _is_removal(over[name]):
                continue
            if name in over:
                self.smap.keys[(section, name)] = self.omap.position((section, name), key=True)
                result[name] = _merge(value, (section, name), self.bmap, over[name], (section, name), self.omap,
                                      (section, name), self.smap)
            else:
                result[name] = value
                self.smap.copy_subtree(self.bmap, (section, name), (section, name))
        for name, value in over.items():
            if name in base:
                continue
            if _is_removal(value):
                self.problems.append(self.omap.problem((section, name, "remove"),
                                                       f"nothing to remove: the base has no entry '{name}'",
                                                       code="overlay"))
                continue
            result[name] = value
            self.smap.copy_subtree(self.omap, (section, name), (section, name))
        return result

    def parameters(self) -> dict[str, Any]:
        """`parameters: {id: value}` sets the value of the base's parameter `id` (label and type stay).

        A mapping merges like any entry (to relabel one); a parameter the base lacks is refused:
        a value nothing reads would hide a misspelt id.
        """
        found = self.base.get("parameters")
        base: dict[str, Any] = found if isinstance(found, dict) else {}
        over = self.over["parameters"]
        if not isinstance(over, dict):
            self.problems.append(self.omap.problem(("parameters",), "must be a mapping (id: value)", code="type"))
            return base
        self.smap.values[("parameters",)] = self.omap.position(("parameters",))
        result: dict[str, Any] = {}
        for name, spec in base.items():
            self.smap.copy_subtree(self.bmap, ("parameters", name), ("parameters", name))
            result[name] = spec
            if name not in over:
                continue
            value = over[name]
            self.smap.keys[("parameters", name)] = self.omap.position(("parameters", name), key=True)
            if isinstance(value, dict) and isinstance(spec, dict):
                result[name] = _merge(spec, ("parameters", name), self.bmap, value, ("parameters", name), self.omap,
                                      ("parameters", name), self.smap)
            elif isinstance(spec, dict):
                result[name] = {**spec, "value": value}
                self.smap.values[("parameters", name, "value")] = self.omap.position(("parameters", name))
        for name in over:
            if name not in base:
                known = ", ".join(base) or "none"
                message = (f"the workflow has no parameter '{name}'{suggest(name, base)} to set "
                           f"(its parameters: {known}); declare it in the base workflow's 'parameters'")
                self.problems.append(self.omap.problem(("parameters", name), message, key=True, code="overlay"))
        return result

    def transitions(self) -> list[Any]:
        found = self.base.get("transitions")
        base: list[Any] = found if isinstance(found, list) else []
        over = self.over["transitions"]
        if not isinstance(over, list):
            self.problems.append(self.omap.problem(("transitions",), "must be a list", code="type"))
            return base
        self.smap.values[("transitions",)] = self.omap.position(("transitions",))
        keyed = {
            (t.get("name"), _from_key(t.get("from"))): i for i, t in enumerate(base) if isinstance(t, dict)
        }
        replaced: dict[int, tuple[int, Any]] = {}
        removed: set[int] = set()
        added: list[tuple[int, Any]] = []
        for j, entry in enumerate(over):
            key = (entry.get("name"), _from_key(entry.get("from"))) if isinstance(entry, dict) else None
            if key in keyed and _is_removal(entry):
                removed.add(keyed[key])
            elif key in keyed:
                replaced[keyed[key]] = (j, entry)
            elif key is not None and _is_removal(entry):
                message = f"nothing to remove: the base has no transition '{key[0]}' from {key[1]!r}"
                self.problems.append(self.omap.problem(("transitions", j, "remove"), message, code="overlay"))
            else:
                added.append((j, entry))
        result: list[Any] = []
        for i, entry in enumerate(base):
            if i in removed:
                continue
            out = ("transitions", len(result))
            if i in replaced:
                j, over_entry = replaced[i]
                result.append(_merge(entry, ("transitions", i), self.bmap, over_entry, ("transitions", j),
                                     self.omap, out, self.smap))
            else:
                result.append(entry)
                self.smap.copy_subtree(self.bmap, ("transitions", i), out)
        for j, entry in added:
            self.smap.copy_subtree(self.omap, ("transitions", j), ("transitions", len(result)))
            result.append(entry)
        return result

    def merge(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in self.base.items():
            if key not in self.over:
                result[key] = value
                self.smap.copy_subtree(self.bmap, (key,), (key,))
        for key, value in self.over.items():
            if key in ("states", "fields"):
                result[key] = self.by_key(key)
            elif key == "parameters":
                result[key] = self.parameters()
            elif key == "transitions":
                result[key] = self.transitions()
            elif key == "id" and value != self.base.get("id"):
                message = f"an overlay keeps the base's id '{self.base.get('id')}'"
                self.problems.append(self.omap.problem(("id",), message, code="overlay"))
                result[key] = self.base.get("id")
            else:
                result[key] = value
                self.smap.copy_subtree(self.omap, (key,), (key,))
        self.smap.values[()] = self.bmap.position(())
        return result


def apply_overlay(base: Any, bmap: SourceMap, overlay: Any, omap: SourceMap) -> tuple[Any, SourceMap, list[Problem]]:
    """Merge `overlay` onto `base`; returns the merged document, its SourceMap and problems."""
    if not isinstance(overlay, dict):
        return base, bmap, [omap.problem((), "an overlay must be a mapping of keys to override", code="type")]
    if not isinstance(base, dict):
        return base, bmap, []
    merger = _Merger(base, bmap, overlay, omap)
    document = merger.merge()
    return document, merger.smap, merger.problems
