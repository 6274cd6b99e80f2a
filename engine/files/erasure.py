"""Residents' rights over attached files (个人信息保护法, PIPL): listed in their export, erased with them.

    listed(session, item_id, number, definition) -> list[dict]   an item's files as a resident's export
                                                                 lists them (never their bytes)
    erase(session, item_id, definition, now, name=, phone=) -> list[str]
        delete the stored files of the item's `personal` file fields and mark their rows erased;
        take the name and phone out of every file name of the item; returns the fields erased

engine/org/privacy.py calls both, for the items it exports and anonymises: a photo of a home or
a signed notice is the resident's data as much as their name. The row of an erased file stays
(named （已删除）, no hash, no thumbnail): the history still says a file was attached, when and by
whom, and `estateflow check` does not call it missing. Files of fields that are not `personal`
(a photo of a pipe in the shared shaft, a drawing) are kept like the item's other figures.

The bytes are deleted only when the transaction commits: an erasure that rolls back leaves the
files in place, so no row ever names a file that is gone. Should the process stop between the
commit and the deletion, the files left are named by no live row and `estateflow check` reports
them as orphaned (delete them by hand).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from engine.files import storage
from engine.files.attachments import find
from engine.language.definition import WorkflowDefinition
from engine.store.models import Attachment

__all__ = ["ERASED_NAME", "erase", "listed"]

ERASED_NAME = "（已删除）"
"""The display name an erased file keeps."""
_ERASED = "estateflow.files.erased"


def listed(session: Session, item_id: int, number: str, definition: WorkflowDefinition) -> list[dict[str, Any]]:
    """The item's files, oldest first: item number, field label, name, kind, when attached, whether erased."""
    rows = session.scalars(select(Attachment).where(Attachment.item_id == item_id)
                           .order_by(Attachment.uploaded_at, Attachment.id))
    found = []
    for row in rows:
        view = find(session, row.id)
        assert view is not None
        field = definition.fields.get(row.field)
        found.append({"item": number, "field": field.label if field else row.field, "name": row.filename,
                      "kind": view.kind_label, "uploaded_at": row.uploaded_at.isoformat(),
                      "erased_at": row.erased_at.isoformat() if row.erased_at else None})
    return found


def _delete_after_commit(session: Session) -> list[str]:
    """The keys to delete once this session commits (forgotten if it rolls back); listeners added once."""
    keys: list[str] | None = session.info.get(_ERASED)
    if keys is None:
        keys = session.info[_ERASED] = []

        @event.listens_for(session, "after_commit")
        def _gone(_session: Session) -> None:
            store = storage.configured()
            for key in keys:
                store.delete(key)
            keys.clear()

        @event.listens_for(session, "after_rollback")
        def _kept(_session: Session) -> None:
            keys.clear()
    return keys


def _without(filename: str, name: str | None, phone: str | None, placeholder: str) -> str:
    """A file name with the resident's name and phone taken out (王丽家门锁.jpg → （已匿名）家门锁.jpg)."""
    if name and name in filename:
        filename = filename.replace(name, placeholder)
    digits = (phone or "").replace("-", "")
    if len(digits) >= 7 and digits in filename:
        filename = filename.replace(digits, "")
    return filename


def erase(session: Session, item_id: int, definition: WorkflowDefinition, now: datetime, *,
          name: str | None = None, phone: str | None = None, placeholder: str = "（已匿名）") -> list[str]:
    """Erase the files of the item's personal file fields (see the module docstring); the fields erased."""
    personal = {n for n, f in definition.fields.items() if f.type == "file" and f.personal}
    doomed = _delete_after_commit(session)
    erased: set[str] = set()
    for row in session.scalars(select(Attachment).where(Attachment.item_id == item_id)):
        if row.erased_at is not None:
            continue
        if row.field in personal:
            doomed += [k for k in (row.storage_key, row.thumbnail_key) if k is not None]
            row.erased_at, row.filename, row.sha256, row.thumbnail_key = now, ERASED_NAME, "", None
            erased.add(row.field)
        else:
            cleaned = _without(row.filename, name, phone, placeholder)
            if cleaned != row.filename:
                row.filename = cleaned
    session.flush()
    return sorted(erased)
