"""What `estateflow publish` and the browser store besides workflows: routing tables, message catalogues,
reports (per estate), the definitions folder's files themselves, and administrators' drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.store.models.base import Base, JSONDoc, UTCDateTime

__all__ = ["DefinitionFile", "Draft", "MessagesVersion", "PublishedDocument", "ReportVersion", "RoutingVersion"]


class PublishedDocument:
    """The columns of a per-estate document published by `estateflow publish` (a routing table, a
    message catalogue, a report): numbered versions of one estate, the newest applies, a hash to skip repeats."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    estate_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(100))


class RoutingVersion(PublishedDocument, Base):
    """A published routing table of one estate (workflows/estates/<estate>/_routing.yaml); the newest applies."""

    __tablename__ = "routing_versions"
    __table_args__ = (UniqueConstraint("estate_id", "version"),)


class MessagesVersion(PublishedDocument, Base):
    """A published resident-message catalogue (workflows/messages.yaml merged with an estate's
    _messages.yaml; estate '' is the base), 0009; the newest of an estate applies, else the base's."""

    __tablename__ = "messages_versions"
    __table_args__ = (UniqueConstraint("estate_id", "version"),)


class ReportVersion(PublishedDocument, Base):
    """A published report definition (workflows/reports/<id>.yaml; estate '' is the base, an estate's
    version is the base merged with its workflows/estates/<estate>/reports/<id>.yaml), 0010."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("report_id", "estate_id", "version"),)

    report_id: Mapped[str] = mapped_column(String(64))


class DefinitionFile(Base):
    """One published text of one file of the definitions folder (0011): `path` relative to the folder
    (`complaint.yaml`, `estates/plaza/complaint.yaml`, `calendars/desk.yaml`), numbered versions per
    path, the newest applies; `text` None marks the file removed. Calendars and the editor read these."""

    __tablename__ = "definition_files"
    __table_args__ = (UniqueConstraint("path", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)


class Draft(Base):
    """An administrator's unpublished edit of one file of the definitions folder (0011), one per path;
    `base_version` is the DefinitionFile version it was started from (None for a new file)."""

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    base_version: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_name: Mapped[str] = mapped_column(String(200))
