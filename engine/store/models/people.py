"""Estates and who is in them: staff accounts, their logins and posts, buildings, units, residents and their consent."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from engine.clock import DEFAULT_TIMEZONE
from engine.store.models.base import Base, JSONDoc, UTCDateTime

__all__ = [
    "AddressFailure", "Building", "Estate", "LoginFailure", "LoginSession", "Resident", "ResidentConsent",
    "Unit", "User", "UserEstate", "UserRole",
]


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
