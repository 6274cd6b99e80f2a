"""Files in scenarios (engine/cli/scenarios.py): attaching them in a step and expecting them.

    store()                                   a file store of the scenario's own (a temporary folder)
    uploads(definition, data, folder)         `{file: photos/leak.jpg}` values read into Uploads
    compare(session, item_id, field, ...)     `expect: fields: {photos: [leak.jpg]}` (the names, in
                                              order) or `{photos: 2}` (how many)

A path is relative to the scenario file's folder (then to the working directory), so a site
keeps its sample photos beside its scenarios; the file's name is the one the upload gives.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine.files import attachments
from engine.language.definition import WorkflowDefinition
from engine.language.uploads import Upload

__all__ = ["Failed", "compare", "store", "uploads"]


class Failed(Exception):
    """A scenario step that cannot run as written (engine/cli/scenarios.py reports it)."""


@contextmanager
def store() -> Iterator[Path]:
    """Point ESTATEFLOW_FILES_DIR at a temporary folder while a scenario runs; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="estateflow-scenario-files-"))
    before = os.environ.get("ESTATEFLOW_FILES_DIR")
    os.environ["ESTATEFLOW_FILES_DIR"] = str(folder)
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("ESTATEFLOW_FILES_DIR", None)
        else:
            os.environ["ESTATEFLOW_FILES_DIR"] = before
        shutil.rmtree(folder, ignore_errors=True)


def _read(spec: Any, folder: Path) -> Upload:
    if not (isinstance(spec, dict) and set(spec) == {"file"} and isinstance(spec["file"], str)):
        raise Failed(f"a file field's value is {{file: PATH}} or a list of them, not {spec!r}")
    for base in (folder, Path.cwd()):
        path = base / spec["file"]
        if path.is_file():
            return Upload(path.name, path.read_bytes())
    raise Failed(f"no file {spec['file']} (beside the scenario or in the working directory)")


def uploads(definition: WorkflowDefinition, data: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """`data` with each file field's `{file: PATH}` (or list of them) read into Uploads."""
    read = dict(data)
    for name, value in data.items():
        field = definition.fields.get(name)
        if field is None or field.type != "file" or value is None:
            continue
        read[name] = [_read(v, folder) for v in value] if isinstance(value, list) else _read(value, folder)
    return read


def compare(session: Session, item_id: int, name: str, held: Any, wanted: Any) -> Iterator[str]:
    """What differs between the files the field holds and `wanted` (their names in order, or a count)."""
    ids = list(held or ())
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        if len(ids) != wanted:
            yield f"expected {wanted} file(s) in {name}, got {len(ids)}"
        return
    by_id = {a.id: a.filename for a in attachments.for_item(session, item_id)}
    names = [by_id.get(i, "?") for i in ids]
    expected = [] if wanted is None else [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
    if names != expected:
        yield f"expected {name} {expected!r}, got {names!r}"
