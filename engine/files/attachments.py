"""Attaching files to an item inside the step that brings them, and listing them.

    check(session, definition, estate_id, working, stored) -> list[Staged]
        every upload of the step checked (type sniffed from the bytes, the field's size limit,
        the estate's quota) before anything is written; InvalidFields names each bad field.
        `working` gets the field's attachment ids in place of the uploads.
    write(session, item_id, estate_id, staged, actor_id, now)
        the files into the store and their rows, after the step's history row; a transaction
        that then rolls back deletes the files it wrote (so a failed step leaves none behind)
    for_item(session, item_id) -> list[AttachmentView]    every file of an item, oldest first
    find(session, attachment_id) -> AttachmentView | None
    read(view, thumbnail=False) -> bytes                    its bytes from the store

Who may open a file is who may see its item: engine/views/attachments.py asks that first.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
import unicodedata
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from engine.errors import InvalidFields
from engine.files import images, storage
from engine.language.definition import FieldDef, WorkflowDefinition
from engine.language.uploads import StoredFiles, Upload
from engine.store.models import Attachment, ItemHistory

__all__ = ["AttachmentView", "Staged", "check", "find", "for_item", "quota_bytes", "read", "write"]

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_ACCEPT = ("image", "pdf")
_GROUPS = {"image": "照片", "pdf": "PDF", "office": "Office 文档"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STAGED = "estateflow.files.staged"


@dataclass(frozen=True, slots=True)
class Staged:
    """One checked upload, waiting for its step's history row to be written."""

    id: str
    field: str
    filename: str
    kind: images.Kind
    content: bytes
    sha256: str
    thumbnail: bytes | None


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """An attached file as pages show it."""

    id: str
    item_id: int
    estate_id: str
    field: str
    history_id: int | None
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    thumbnail_key: str | None
    uploaded_by: int | None
    uploaded_at: datetime
    erased_at: datetime | None = None
    """The file was deleted on a resident's behalf (PIPL, engine/files/erasure.py): listed, never served."""

    @property
    def inline(self) -> bool:
        """Images are shown in the page; everything else is downloaded."""
        return self.content_type.startswith("image/")

    @property
    def kind_label(self) -> str:
        """What the file is, in the staff's words: 照片, PDF, Office 文档, 文件."""
        if self.content_type.startswith("image/"):
            return _GROUPS["image"]
        if self.content_type == "application/pdf":
            return _GROUPS["pdf"]
        if self.content_type.startswith(("application/vnd.openxmlformats", "application/msword",
                                         "application/vnd.ms-")):
            return _GROUPS["office"]
        return "文件"


def quota_bytes() -> int:
    """The files one estate may keep (ESTATEFLOW_FILES_QUOTA_MB, default 2048 MB)."""
    raw = os.environ.get("ESTATEFLOW_FILES_QUOTA_MB") or "2048"
    return int(raw) * 1024 * 1024 if raw.strip().isdigit() else 2048 * 1024 * 1024


def _contact() -> str:
    return os.environ.get("ESTATEFLOW_FILES_CONTACT") or "系统管理员"


def clean_name(filename: str) -> str:
    """The uploader's file name for display and downloads: no folders, no control characters, ≤ 120 chars."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL.sub("", name).strip().lstrip(".") or "文件"
    return name if len(name) <= 120 else name[:60] + "…" + name[-59:]


def _megabytes(size: int) -> str:
    return f"{size // 1024} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:g} MB"


def _accepted(field: FieldDef, kind: images.Kind) -> bool:
    accept = field.accept or DEFAULT_ACCEPT
    return kind.group in accept or f".{kind.extension}" in accept


def _allowed_text(field: FieldDef) -> str:
    return "、".join(_GROUPS.get(a, a) for a in (field.accept or DEFAULT_ACCEPT))


def _check_one(field: FieldDef, upload: Upload) -> tuple[Staged | None, str | None]:
    name = clean_name(upload.filename)
    limit = field.max_size or DEFAULT_MAX_SIZE
    if len(upload.content) > limit:
        return None, f"文件“{name}”太大了（最大 {_megabytes(limit)}）"
    kind = images.sniff(upload.content, name)
    if kind is None or not _accepted(field, kind):
        return None, f"文件“{name}”的类型不能上传（可上传：{_allowed_text(field)}）"
    content = upload.content
    if kind.group == "image":
        # A phone photo's EXIF tells where the home is and whose phone took it: never stored (PIPL).
        cleaned = images.without_metadata(upload.content, kind)
        if cleaned is None:
            return None, f"文件“{name}”的类型不能上传（可上传：{_allowed_text(field)}）"
        content = cleaned
    thumb = images.thumbnail(content) if kind.group == "image" else None
    # The size, the hash and the quota are those of the bytes stored; the name is for display only.
    return Staged(_new_id(), field.name, name, kind, content, hashlib.sha256(content).hexdigest(), thumb), None


def _new_id() -> str:
    """32 hex digits: the time first, so a step's files keep the order they were given in; then 64 random bits."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def used_bytes(session: Session, estate_id: str) -> int:
    """The bytes of every file the estate keeps (thumbnails and erased files not counted)."""
    total = session.scalar(select(func.coalesce(func.sum(Attachment.size), 0))
                           .where(Attachment.estate_id == estate_id, Attachment.erased_at.is_(None)))
    return int(total or 0)


def check(session: Session, definition: WorkflowDefinition, estate_id: str, working: MutableMapping[str, Any],
          stored: Mapping[str, Any]) -> list[Staged]:
    """Check the step's uploads and put their ids in `working`; nothing is written.

    A `multiple` field keeps its files and adds the new ones; a single one holds the new file
    (the old one stays in the item's history); no file given keeps what the field holds.
    Raises InvalidFields (Chinese) naming each field.
    """
    staged: list[Staged] = []
    problems: dict[str, str] = {}
    for name, field in definition.fields.items():
        if field.type != "file":
            continue
        value = working.get(name)
        if value is None and stored.get(name):
            working[name] = stored[name]  # a step gives files, never takes them: an empty value keeps them
            continue
        if not isinstance(value, tuple) or not value or not all(isinstance(v, Upload) for v in value):
            continue
        mine = []
        for upload in value:
            found, problem = _check_one(field, upload)
            if problem:
                problems[name] = problem
                break
            assert found is not None
            mine.append(found)
        if name in problems:
            continue
        staged.extend(mine)
        kept = tuple(stored.get(name) or ()) if field.multiple else ()
        working[name] = StoredFiles((*kept, *(s.id for s in mine)))
    if problems:
        raise InvalidFields(problems)
    if staged:
        quota = quota_bytes()
        if used_bytes(session, estate_id) + sum(len(s.content) for s in staged) > quota:
            message = (f"本小区的附件空间已满（上限 {_megabytes(quota)}），不能再上传文件。"
                       f"请联系{_contact()}清理旧文件或提高上限。")
            raise InvalidFields({s.field: message for s in staged})
    return staged


def _forget_on_commit(session: Session) -> list[str]:
    """The keys this transaction wrote; deleted again if it rolls back (listeners added once per session)."""
    written: list[str] | None = session.info.get(_STAGED)
    if written is None:
        written = session.info[_STAGED] = []

        @event.listens_for(session, "after_commit")
        def _kept(_session: Session) -> None:
            written.clear()

        @event.listens_for(session, "after_rollback")
        def _undo(_session: Session) -> None:
            store = storage.configured()
            for key in written:
                store.delete(key)
            written.clear()
    return written


def write(session: Session, item_id: int, estate_id: str, staged: list[Staged], actor_id: int | None,
          now: datetime) -> None:
    """Store the files and insert their rows, naming the step's history row (written just before)."""
    if not staged:
        return
    # The item's newest transition row is this step's: the version-checked UPDATE locked the item.
    history_id = session.scalar(select(func.max(ItemHistory.id)).where(
        ItemHistory.item_id == item_id, ItemHistory.kind == "transition"))
    store = storage.configured()
    written = _forget_on_commit(session)
    rows = []
    for one in staged:
        key = storage.new_key(one.kind.extension)
        written.append(key)
        store.put(key, one.content)
        thumb_key = None
        if one.thumbnail is not None:
            thumb_key = storage.new_key("jpg", thumbnail_of=key)
            written.append(thumb_key)
            store.put(thumb_key, one.thumbnail)
        rows.append({"id": one.id, "item_id": item_id, "estate_id": estate_id, "field": one.field,
                     "history_id": history_id, "filename": one.filename, "content_type": one.kind.content_type,
                     "size": len(one.content), "sha256": one.sha256, "storage_key": key,
                     "thumbnail_key": thumb_key, "uploaded_by": actor_id, "uploaded_at": now})
    session.execute(insert(Attachment), rows)


def _view(row: Attachment) -> AttachmentView:
    return AttachmentView(row.id, row.item_id, row.estate_id, row.field, row.history_id, row.filename,
                          row.content_type, row.size, row.sha256, row.storage_key, row.thumbnail_key,
                          row.uploaded_by, row.uploaded_at, row.erased_at)


def for_item(session: Session, item_id: int) -> list[AttachmentView]:
    """Every file of the item, in the order they were added."""
    rows = session.scalars(select(Attachment).where(Attachment.item_id == item_id)
                           .order_by(Attachment.uploaded_at, Attachment.id))
    return [_view(row) for row in rows]


def find(session: Session, attachment_id: str) -> AttachmentView | None:
    """One file's row by its id (None for anything that is not one)."""
    if not re.fullmatch(r"[0-9a-f]{32}", attachment_id):
        return None
    row = session.get(Attachment, attachment_id)
    return _view(row) if row is not None else None


def read(view: AttachmentView, *, thumbnail: bool = False) -> bytes:
    """The file's bytes (or its thumbnail's). FileNotFoundError when the store lost it or it was erased."""
    key = view.thumbnail_key if thumbnail else view.storage_key
    if key is None or view.erased_at is not None:
        raise FileNotFoundError(view.id)
    with storage.configured().open(key) as stream:
        return stream.read()
