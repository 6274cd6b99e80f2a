"""Administrators' drafts: an unpublished text of one file of the definitions tree, kept in the database.

One draft per path, whoever saved it last (the editor shows who and when): a draft is the department's
work in progress on that file, not a private copy. `base_version` is the published version of the file
the draft started from (None for a new file), so publishing can tell that someone published meanwhile.
Saving and discarding write inside the caller's transaction, like the rest of the runtime; only an
administrator may (permissions.may_author).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.errors import InvalidFields, NotPermitted
from engine.store.models import Draft

__all__ = ["MAX_DRAFT_CHARS", "discard_draft", "get_draft", "list_drafts", "save_draft"]

MAX_DRAFT_CHARS = 1_000_000
"""As large as `estateflow validate` reads a file (engine/language/source.py MAX_FILE_BYTES): a longer
draft could never be published, and the database should not hold megabytes nobody can use."""


def save_draft(session: Session, path: str, text: str, actor: Actor, now: datetime,
               base_version: int | None) -> Draft:
    """Store `text` as the draft of `path` (replacing the one there), saved by `actor` at `now`.

    Raises NotPermitted for anyone but an administrator, InvalidFields when the text is too long.
    A draft that already exists keeps the `base_version` it started from: the edits on top of it were
    made against that version, whatever the editor sends now."""
    if not permissions.may_author(actor):
        raise NotPermitted("只有管理员可以编辑流程配置")
    if len(text) > MAX_DRAFT_CHARS:
        raise InvalidFields({"source": f"文件过大（最多 {MAX_DRAFT_CHARS // 1000} 千字符）"})
    draft = get_draft(session, path)
    if draft is None:
        draft = Draft(path=path, base_version=base_version)
        session.add(draft)
    draft.text = text
    draft.updated_at = now
    draft.updated_by = actor.user_id
    draft.updated_by_name = actor.name
    session.flush()
    return draft


def get_draft(session: Session, path: str) -> Draft | None:
    """The draft of `path`, if there is one."""
    return session.scalars(select(Draft).where(Draft.path == path)).one_or_none()


def list_drafts(session: Session) -> Sequence[Draft]:
    """Every draft, by path."""
    return session.scalars(select(Draft).order_by(Draft.path)).all()


def discard_draft(session: Session, path: str) -> bool:
    """Delete the draft of `path`; whether there was one."""
    result = session.execute(delete(Draft).where(Draft.path == path))
    return bool(result.rowcount)  # type: ignore[attr-defined]
