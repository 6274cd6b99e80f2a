"""An estate's report override merged onto the base report, positions kept.

`workflows/estates/<estate>/reports/<id>.yaml` has the shape of a report, every key optional:
top-level keys replace the base's, `measures` are merged by id (a measure given replaces the
base's measure of that id whole; a new id is added), `tables` replace the base's list when given.
The merged SourceMap keeps each key's own file and line, so a problem points into the file
that wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import Path
from engine.language.source import SourceMap

__all__ = ["merge"]


def _drop(smap: SourceMap, prefix: Path) -> None:
    size = len(prefix)
    for positions in (smap.values, smap.keys):
        for path in [p for p in positions if p[:size] == prefix]:
            del positions[path]


def _take(smap: SourceMap, other: SourceMap, path: Path) -> None:
    """`path` as `other` wrote it, replacing what the base wrote there."""
    _drop(smap, path)
    smap.copy_subtree(other, path, path)


def merge(base: Mapping[str, Any], base_smap: SourceMap, override: Mapping[str, Any],
          override_smap: SourceMap) -> tuple[dict[str, Any], SourceMap]:
    """The base report with the override applied, and the positions of both files' keys."""
    document = dict(base)
    smap = SourceMap(override_smap.file, dict(base_smap.values), dict(base_smap.keys))
    for key, value in override.items():
        if key == "measures" and isinstance(value, dict) and isinstance(base.get("measures"), dict):
            measures = dict(base["measures"])
            for measure_id, spec in value.items():
                measures[measure_id] = spec
                _take(smap, override_smap, ("measures", measure_id))
            document["measures"] = measures
            smap.keys[("measures",)] = override_smap.keys.get(("measures",), smap.position(("measures",)))
        else:
            document[key] = value
            _take(smap, override_smap, (key,))
    return document, smap
