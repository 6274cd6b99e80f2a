"""The database tables, as SQLAlchemy 2.x typed declarative models.

The schema is created and changed only by the Alembic migrations in
engine/store/migrations/ (never `create_all` at start-up); a test checks that the
migrations and these models agree. All times are stored in UTC (`UTCDateTime`);
field values live in `items.data` as JSON (see engine/language/fields.py for the encoding).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator

from engine.clock import DEFAULT_TIMEZONE

__all__ = [
    "AccessLog", "AddressFailure", "AuditLog", "Base", "Building", "Counter", "Estate", "Item", "ItemAssignee",
    "ItemDeadline", "ItemHistory", "ItemLink", "LoginFailure", "LoginSession", "Outbox", "Resident", "RoutingVersion",
    "MessagesVersion", "ResidentConsent", "Attachment",
    "Unit", "User", "UserEstate", "UserRole", "UTCDateTime", "WorkerPass", "WorkflowVersion",
]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; SQLite drops the zone, so it is put back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored (whose time zone would it be?)")
        return value.astimezone(UTC) if dialect.name != "sqlite" else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """The declarative base of every table; constraints get stable names (SQLite batch migrations need them)."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONDoc}


class Estate(Base):
    """An estate (小区/项目); items, users and overlays belong to estates."""

    __tablename__ = "estates"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE, server_default=DEFAULT_TIMEZONE)


class User(Base):
    """A member of staff who logs in; the system actor is not a row."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    email: Mapped[str | None] = mapped_column(String(254))
    """Where SMTP notifications go (migration 0003, the outbox senders)."""
    phone: Mapped[str | None] = mapped_column(String(32))
    """Where an SMS/WeChat gateway behind the webhook sender reaches the user (0003)."""
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Set by an admin's reset and for imported users: the next login must choose a new password (0006)."""
    on_leave: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Away: new notifications meant for the user go to `stand_in_id` (0006)."""
    stand_in_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    """Who covers while the user is on leave (their open items were handed over to that user)."""


class LoginSession(Base):
    """One login of one browser, kept on the server (engine/access/sessions.py, migration 0004).

    `id` is the SHA-256 of the random token the signed cookie carries, so a copy of the
    table opens nothing. Logout, a password change or disabling the user set `ended_at`;
    a session also expires after the idle timeout (`last_seen_at`, written at most about
    once a minute) and the absolute lifetime (`created_at`).
    """

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """Consecutive wrong passwords for one (account, client address): the login throttle (engine/access/logins.py).

    `account` is the lower-cased username as typed (unknown names count too); a correct
    password deletes the row. Rows whose last failure is old are pruned.
    """

    __tablename__ = "login_failures"

    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AddressFailure(Base):
    """Wrong passwords from one client address across accounts, in a fixed window (the per-address ceiling)."""

    __tablename__ = "login_address_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    failures: Mapped[int] = mapped_column(Integer)


class UserRole(Base):
    """A role id (from workflows/roles.yaml) held by a user in one estate (0006: roles are per estate).

    A user holding a role in an estate also has a `UserEstate` row for it (engine/org keeps both).
    """

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    estate_id: Mapped[str] = mapped_column(ForeignKey("estates.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)


class UserEstate(Base):
    """An estate a user works in (sees and acts on its items, with the roles held there)."""

    __tablename__ = "user_estates"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    estate_id: Mapped[str] = mapped_column(ForeignKey("estates.id", ondelete="CASCADE"), primary_key=True)


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
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    comment: Mapped[str | None] = mapped_column(Text)
    branch: Mapped[int | None] = mapped_column(Integer)
    """The fired entry's index in its definition's `transitions` (null: an event, or written before 0007)."""


class Outbox(Base):
    """A notification waiting to be sent (drained by `estateflow send` with retries)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
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


class ItemLink(Base):
    """A link between two items; a spawn writes one row each way ('spawned', 'spawned_from')."""

    __tablename__ = "item_links"

    from_item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    to_item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)


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


class Building(Base):
    """A building (楼栋) of an estate, named as staff say it ("3" or "3栋")."""

    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("estate_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    estate_id: Mapped[str] = mapped_column(ForeignKey("estates.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))


class Unit(Base):
    """A unit (房号, e.g. 3-1-502) of a building: the household record (一户一档).

    `tags` is a list of short labels (VIP, 敏感客户, 空置). Changes are recorded in
    `audit_log` with the unit's id, so the unit page shows its history.
    """

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("estate_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    estate_id: Mapped[str] = mapped_column(ForeignKey("estates.id", ondelete="CASCADE"))
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    area_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    tags: Mapped[list[str]] = mapped_column(JSONDoc, default=list)


class Resident(Base):
    """An owner or tenant of a unit; personal data (name, phone), masked for most staff.

    `kind` is 'owner' or 'tenant'. Moving out sets `moved_out_on` (the record stays);
    anonymising replaces name and phone and sets `anonymised_at`.
    """

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    moved_in_on: Mapped[date | None] = mapped_column(Date)
    moved_out_on: Mapped[date | None] = mapped_column(Date)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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


class PublishedDocument:
    """The columns of a per-estate document published by `estateflow publish` (a routing table, a
    message catalogue): numbered versions of one estate, the newest applies, a hash to skip repeats."""

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



class ResidentConsent(Base):
    """A resident's recorded choice about text messages to a phone in an estate (0009), append-only.

    The newest row of an (estate, phone) is the one that applies (engine/runtime/resident_consent.py):
    'consented' (reminders such as 缴费提醒 may be sent) or 'opted_out' (nothing is sent). Older rows
    stay as the record of who recorded what and when (PIPL: consent must be provable).
    `source`: 'staff' (on a call or at the desk), 'sms_reply' (the gateway reported a TD reply), 'import'.
    """

    __tablename__ = "resident_consents"
    __table_args__ = (Index("ix_resident_consents_estate_phone", "estate_id", "phone", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    estate_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_by_name: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(String(200), default="")


class MessagesVersion(PublishedDocument, Base):
    """A published resident-message catalogue (workflows/messages.yaml merged with an estate's
    _messages.yaml; estate '' is the base), 0009; the newest of an estate applies, else the base's."""

    __tablename__ = "messages_versions"
    __table_args__ = (UniqueConstraint("estate_id", "version"),)

