"""Opening an attached file for a user: only one who may see its item (engine/access/visibility.py).

    open_file(session, actor, attachment_id, thumbnail=False, clock=) -> Opened
    record_opening(session, actor, opened, clock=)    its access-log row, when it needs one

Anything else (no such file, another estate's, an item the user's posts do not see, a
thumbnail of a document, a file of a `personal` field for one who sees the item's personal
data masked) is ItemNotFound, exactly like a missing item: a file's existence is not told to
whoever may not see it. A row whose stored file is gone is ItemNotFound too
(and `estateflow check` reports it as missing), as is a file erased on a resident's behalf.

A photo of a home or a signed notice is personal data (PIPL): each opening of a file is
written to the access log (kind 'view': who, when, which item, which of its files by field and
position, never the file's name or bytes). A thumbnail is part of the item page that shows
it: it is logged only when neither the page nor another thumbnail of the item wrote a row for
this user within THUMBNAIL_WINDOW (docs/organisation.md). Reading and logging are two calls, so
the bytes are read in a read transaction and only the row is written (a page's thumbnails,
mostly logged already, do not queue for the write lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import visibility
from engine.access.actor import Actor
from engine.clock import Clock, SystemClock
from engine.errors import ItemNotFound
from engine.files import attachments
from engine.files.attachments import AttachmentView
from engine.language.definition import WorkflowDefinition
from engine.org import audit
from engine.runtime.items import get_item
from engine.runtime.registry import REGISTRY, Registry
from engine.store.models import AccessLog

__all__ = ["THUMBNAIL_WINDOW", "Opened", "open_file", "record_opening"]

_CLOCK = SystemClock()
THUMBNAIL_WINDOW = timedelta(minutes=10)
"""A page's thumbnails load together: one access row for them (or the page's own row) per user and item."""


@dataclass(frozen=True, slots=True)
class Opened:
    """A file to send: its row and its bytes (the thumbnail's when asked for)."""

    file: AttachmentView
    content: bytes
    content_type: str
    access: str | None = None
    """What the access log is to say of this opening (None: on record already, a page's thumbnail)."""


def _which(session: Session, found: AttachmentView, definition: WorkflowDefinition) -> str:
    """The file as the access log names it: its field, its place among the item's files, its kind."""
    field = definition.fields.get(found.field)
    position = [a.id for a in attachments.for_item(session, found.item_id)].index(found.id) + 1
    return f"{field.label if field else found.field}（本事项第 {position} 个附件，{found.kind_label}）"


def _page_logged(session: Session, actor: Actor, item_id: int, now: datetime) -> bool:
    """Whether a view of this item by this user is on record within THUMBNAIL_WINDOW."""
    return session.scalar(select(AccessLog.id).where(
        AccessLog.user_id == actor.user_id, AccessLog.item_id == item_id, AccessLog.kind == "view",
        AccessLog.at >= now - THUMBNAIL_WINDOW).limit(1)) is not None


def open_file(session: Session, actor: Actor, attachment_id: str, *, thumbnail: bool = False,
              clock: Clock | None = None, registry: Registry = REGISTRY) -> Opened:
    """The file's bytes for `actor` and what the access log is to say; ItemNotFound unless the actor may
    see its item. The caller then writes the row with record_opening."""
    found = attachments.find(session, attachment_id)
    missing = ItemNotFound("没有这个文件", attachment=attachment_id)
    if found is None:
        raise missing
    item = get_item(session, found.item_id, actor, registry=registry)  # ItemNotFound when not seen
    definition = registry.compiled(session, item.definition_id)
    field = definition.fields.get(found.field)
    if field is not None and field.personal and not visibility.sight(
            actor.at(item.estate_id), definition, item.estate_id, item.department, item.assignees.values()).full:
        raise missing  # a personal file is shown like the item's other personal data: masked
    try:
        content = attachments.read(found, thumbnail=thumbnail)
    except FileNotFoundError:
        raise missing from None
    if not thumbnail:
        access: str | None = f"打开附件：{_which(session, found, definition)}"
    elif actor.user_id is None or not _page_logged(session, actor, found.item_id, (clock or _CLOCK).now()):
        access = "查看事项的附件缩略图"
    else:
        access = None
    return Opened(found, content, "image/jpeg" if thumbnail else found.content_type, access)


def record_opening(session: Session, actor: Actor, opened: Opened, *, clock: Clock | None = None) -> None:
    """Write the opening's access-log row (kind 'view'), when it needs one, in the caller's transaction."""
    if opened.access is not None:
        audit.accessed(session, actor, "view", estate_id=opened.file.estate_id, item_id=opened.file.item_id,
                       detail=opened.access, clock=clock)
