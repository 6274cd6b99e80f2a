"""What the system keeps on the side: messages waiting to be sent, worker passes, the audit and access logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models.base import Base, JSONDoc, UTCDateTime

__all__ = ["AccessLog", "AuditLog", "Outbox", "WorkerPass"]


class Outbox(Base):
    """A notification waiting to be sent (drained by `estateflow send` with retries)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    """The item the message is about; null for a report e-mailed by `estateflow report send` (0010)."""
    estate_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    role: Mapped[str | None] = mapped_column(String(64))
    """The role told (every holder in the estate); null when the message is for one person (`user_id`)."""
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """The person told (`notify: {user: FIELD}`), 0006."""
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone: Mapped[str | None] = mapped_column(String(32))
    """A message to a resident (`notify: {resident: FIELD}`, 0009): the number texted; role and user_id are null."""
    template: Mapped[str | None] = mapped_column(String(64))
    """The resident template's id (workflows/messages.yaml), 0009."""
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    """The file name of `attachment` (a report's XLSX, 0010)."""
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    """A file sent with the e-mail (0010); deferred: the outbox's other reads never load it."""


class WorkerPass(Base):
    """The heartbeat of one `estateflow worker` (per host and name): its last completed pass.

    Written after every pass (tick, then send), read by /healthz in every web process: a
    worker that stopped silently stops every escalation and message, so monitoring must see it.
    Counts are those of the last pass only; no personal data.
    """

    __tablename__ = "worker_passes"
    __table_args__ = (UniqueConstraint("host", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """When this process started."""
    last_pass_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    passes: Mapped[int] = mapped_column(Integer)
    """Passes completed by this process."""
    handled: Mapped[int] = mapped_column(Integer)
    """Deadlines handled (warnings, escalations, timers) in the last pass."""
    tick_failed: Mapped[int] = mapped_column(Integer)
    sent: Mapped[int] = mapped_column(Integer)
    send_failed: Mapped[int] = mapped_column(Integer)
    """Notifications given up or left for a retry in the last pass."""


class AuditLog(Base):
    """Who changed what in the organisation, when: estates, buildings, units, residents, users, roles.

    `target` names the kind of record ('estate', 'building', 'unit', 'resident', 'user', 'role',
    'routing', 'import'), `target_id` its key; `changes` maps each field to [old, new].
    `unit_id` is set for a unit's and its residents' rows (the unit's history). Personal
    values in `changes` are shown only to those who may see them.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200))
    estate_id: Mapped[str | None] = mapped_column(String(64), index=True)
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    target: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONDoc)


class AccessLog(Base):
    """Each view of personal data in full, each export, each PIPL act (PIPL: who saw whom).

    No foreign keys: the record outlives the item or user it names (kept at least 6 months,
    `ESTATEFLOW_ACCESS_LOG_DAYS`). `kind`: 'view', 'export', 'lookup', 'privacy'.
    """

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_name: Mapped[str] = mapped_column(String(200))
    estate_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int | None] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(String(300), default="")
