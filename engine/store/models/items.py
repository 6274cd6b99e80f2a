"""Work items and what belongs to them: the published definitions they run on, deadlines, history, links,
assignees and attached files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models.base import Base, JSONDoc, UTCDateTime

__all__ = [
    "Attachment", "Counter", "Item", "ItemAssignee", "ItemDeadline", "ItemHistory", "ItemLink",
    "WorkflowVersion",
]


class WorkflowVersion(Base):
    """A published definition: immutable once written.

    `estate_id` is '' for the base definition, or an estate id for the definition
    merged with that estate's overlay. `roles` is the role catalogue it was checked
    against, so a stored version compiles on its own.
    """

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "estate_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(64))
    estate_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    roles: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)  # why it was published (0011)


class Counter(Base):
    """The last number handed out per estate and prefix (TS-000123)."""

    __tablename__ = "counters"

    estate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Item(Base):
    """One work item (a complaint, a repair...) running through a published definition.

    `version` is the optimistic-lock counter (1 at creation, +1 per transition);
    `definition_version` is the published definition it runs on. `deadline_at` and
    `overdue` belong to the time limits (engine/runtime/timers.py): the earliest pending
    escalation of the current state, and whether one has fired there. While the item
    is in a paused state, `paused_since` is when the pause began, `paused_from` the
    state whose limits are suspended and `paused_from_entered_at` when that state was
    entered (restored on returning); `paused_seconds` adds up every pause.
    """

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("estate_id", "number"),
        Index("ix_items_workflow_state", "workflow_id", "state"),
        Index("ix_items_estate", "estate_id"),
        Index("ix_items_deadline_at", "deadline_at"),
        Index("ix_items_definition", "definition_id"),
        # Reports read the items created, or that entered their state, in a period (0010).
        Index("ix_items_workflow_estate_created", "workflow_id", "estate_id", "created_at"),
        Index("ix_items_workflow_estate_entered", "workflow_id", "estate_id", "state_entered_at"),
        Index("ix_items_workflow_estate_state", "workflow_id", "estate_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    estate_id: Mapped[str] = mapped_column(ForeignKey("estates.id"))
    number: Mapped[str] = mapped_column(String(32))
    workflow_id: Mapped[str] = mapped_column(String(64))
    definition_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id"))
    definition_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paused_from: Mapped[str | None] = mapped_column(String(64))
    paused_from_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), index=True)
    """The unit the item's `unit` field names (0006); the unit page (一户一档) lists by it."""
    department: Mapped[str | None] = mapped_column(String(32))
    """The department the item is dispatched to (the workflow's `access.department`), for executors' access."""


class ItemDeadline(Base):
    """One future time event of an item: a warning, an escalation, or a timed transition.

    Written on entering a state (engine/runtime/timers.py); `tick` claims a pending row whose
    `due_at` has passed by setting it 'done', once. Leaving the state cancels its
    pending rows, except for a paused state, which only suspends them. `opens_at` is
    the start of a window (`not_before`); `roles` the roles to notify; `fire` the
    transition to fire.
    """

    __tablename__ = "item_deadlines"
    __table_args__ = (
        Index("ix_item_deadlines_status_due", "status", "due_at"),
        Index("ix_item_deadlines_item_status", "item_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    rule_index: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    roles: Mapped[list[str]] = mapped_column(JSONDoc)
    fire: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ItemHistory(Base):
    """One row per transition (creation included: `from_state` is null) or event.

    Transition rows bump the item's `version`; event rows (escalations,
    notifications, comments) do not. `changes` maps each changed field to [old, new]
    in the JSON encoding; `actor_id` null means the system.
    """

    __tablename__ = "item_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    transition: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str | None] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    comment: Mapped[str | None] = mapped_column(Text)
    branch: Mapped[int | None] = mapped_column(Integer)
    """The fired entry's index in its definition's `transitions` (null: an event, or written before 0007)."""


class ItemLink(Base):
    """A link between two items; a spawn writes one row each way ('spawned', 'spawned_from')."""

    __tablename__ = "item_links"

    from_item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    to_item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)


class ItemAssignee(Base):
    """The person a `user` field of an item names, kept in step with `items.data` by create and fire.

    It lets 我的待办 put "assigned to me" first and lets executors see their own items in SQL.
    """

    __tablename__ = "item_assignees"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class Attachment(Base):
    """A file attached to an item's `file` field (0008); the bytes live in the file store, under `storage_key`.

    `id` is random (it is the value the field stores and the address the page links to); the
    name and type the uploader's device gave are kept for display only: `content_type` is what
    the bytes were sniffed to be. `history_id` is the step that added it (null for one added
    before its step's row existed, which does not happen today, or after that row is gone).
    """

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_estate_id", "estate_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    estate_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    history_id: Mapped[int | None] = mapped_column(ForeignKey("item_history.id", ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    thumbnail_key: Mapped[str | None] = mapped_column(String(200))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set when PIPL erasure deleted the stored file (engine/files/erasure.py); the row stays, for the history."""
