"""What a `file` field is given: uploads in a step, attachment ids once stored.

    Upload(filename, content)   one file as a person submitted it (form, scenario, API)
    parse(field, raw)           the uploads of one step, as a tuple; ValueError (Chinese) otherwise

Only the shape is checked here (this layer does no I/O and knows no limits of a site): the
bytes' real type, the size limit and the estate's quota are checked by engine/files/attachments.py
before the step writes anything. A stored file field holds the tuple of its attachment ids
(`attachments.id`), never a client-supplied one: ids are accepted from the store, not from a form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.language.definition import FieldDef

__all__ = ["MAX_FILES_PER_STEP", "StoredFiles", "Upload", "parse"]

MAX_FILES_PER_STEP = 20
"""Files one step may attach to one field (a repair's photos fit; a photo album does not)."""


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as submitted: the name the uploader's device gave (shown, never trusted) and its bytes."""

    filename: str
    content: bytes

    def __repr__(self) -> str:  # never the bytes in a log or a traceback
        return f"Upload({self.filename!r}, {len(self.content)} bytes)"


class StoredFiles(tuple[str, ...]):
    """The attachment ids a file field holds (a tuple, so `len(photos)` counts them)."""

    __slots__ = ()


def parse(field: FieldDef, raw: Any) -> tuple[Upload, ...] | StoredFiles | None:
    """The uploads of one step for `field` (one Upload or a list of them); an empty list is none."""
    if isinstance(raw, StoredFiles):
        return raw
    items = list(raw) if isinstance(raw, list | tuple) else [raw]
    items = [item for item in items if not (isinstance(item, Upload) and not item.content and not item.filename)]
    if not items:
        return None
    if not all(isinstance(item, Upload) for item in items):
        raise ValueError("请上传文件")
    if any(not item.content for item in items):
        raise ValueError("上传的文件是空的")
    if len(items) > 1 and not field.multiple:
        raise ValueError("只能上传一个文件")
    if len(items) > MAX_FILES_PER_STEP:
        raise ValueError(f"一次最多上传 {MAX_FILES_PER_STEP} 个文件")
    return tuple(items)
