"""The file store against the attachments table, for `estateflow check`.

    missing(session, store, estate=None)   rows whose file (or thumbnail) the store lacks
    orphaned(session, store)               stored files no row names (left by a crash, or by a
                                           deleted item); only for a check of every estate
    copy_files(session, source, target)    the files the rows name, from one store into another
                                           (`estateflow backup` / `restore`)

Lines name attachment ids, item ids and storage keys only, never a file name a person gave.
An erased file (PIPL, engine/files/erasure.py) is neither missing nor named: its row is left
out, so a file its erasure failed to delete is reported as orphaned.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.files.storage import FileStore
from engine.store.models import Attachment

__all__ = ["copy_files", "missing", "orphaned"]


def _rows(session: Session, estate: str | None = None) -> list[tuple[str, int, str | None, str, str | None]]:
    stmt = (select(Attachment.id, Attachment.item_id, Attachment.field, Attachment.storage_key,
                   Attachment.thumbnail_key)
            .where(Attachment.erased_at.is_(None)).order_by(Attachment.item_id, Attachment.id))
    if estate is not None:
        stmt = stmt.where(Attachment.estate_id == estate)
    return [(row[0], row[1], row[2], row[3], row[4]) for row in session.execute(stmt)]


def missing(session: Session, store: FileStore, estate: str | None = None) -> Iterator[str]:
    """A line per row whose stored file is gone."""
    for attachment_id, item_id, field, key, thumb in _rows(session, estate):
        for what, wanted in (("file", key), ("thumbnail", thumb)):
            if wanted is not None and not store.exists(wanted):
                yield f"item {item_id}: attachment {attachment_id} ({field}): {what} {wanted} is missing from " \
                      "the file store"


def orphaned(session: Session, store: FileStore) -> Iterator[str]:
    """A line per stored file that no attachment row names."""
    named = {key for _, _, _, file, thumb in _rows(session) for key in (file, thumb) if key is not None}
    for key in store.keys():
        if key not in named:
            yield f"file store: {key} is orphaned (no attachment names it)"


def copy_files(session: Session, source: FileStore, target: FileStore) -> tuple[int, list[str]]:
    """Copy every file the rows name from `source` into `target` (existing ones kept); returns
    (files copied, keys `source` lacked)."""
    copied, lacking = 0, []
    for _, _, _, file, thumb in _rows(session):
        for key in (file, thumb):
            if key is None or target.exists(key):
                continue
            if not source.exists(key):
                lacking.append(key)
                continue
            with source.open(key) as stream:
                target.put(key, stream.read())
            copied += 1
    return copied, lacking
