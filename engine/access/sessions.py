"""Login sessions kept on the server: started at login, checked on every request, ended at once.

    SessionRules(idle, lifetime)              the idle timeout and the absolute lifetime
    start_session(session, user_id, now, rules) -> token   a new login (the cookie carries the token)
    check_session(session, token, now, rules) -> SessionCheck   whose session it is, if it still holds
    touch_session(session, token, now)        note activity (the caller does it when `check.touch`)
    end_session(session, token, now)          logout: this session only
    end_user_sessions(session, user_id, now)  password change, disabling: every session of the user

Why records rather than a "session generation" stored with the user: a generation can only end
every session of a user at once, so logging out on the office PC would also log the clerk out on
the phone, and it knows nothing of idle time. A row per login gives per-session logout, an idle
timeout and an absolute lifetime that every worker and host agrees on, for one primary-key read
per request; `last_seen_at` is written at most once per `touch_every` (a minute), so pages stay
reads. The cookie (signed by Flask) carries a random token and the table keeps only its SHA-256,
so a copy of the table (a backup) opens nothing.

Functions work inside the caller's transaction and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from engine.store.models import LoginSession

__all__ = [
    "SessionCheck", "SessionRules", "check_session", "digest", "end_session", "end_user_sessions", "start_session",
    "touch_session",
]

sessions = cast(Table, LoginSession.__table__)


@dataclass(frozen=True, slots=True)
class SessionRules:
    """How long a session holds.

    The lifetime default covers the longest shift a property front desk works (24-hour duty,
    24小时值班) so nobody is logged out in the middle of one, and still makes everyone log in
    once a day; the idle timeout ends sessions left open on a shared counter PC overnight.
    """

    idle: timedelta = timedelta(hours=8)
    lifetime: timedelta = timedelta(hours=24)
    touch_every: timedelta = timedelta(minutes=1)
    """How stale `last_seen_at` may get before a request writes it again (bounds writes per request)."""


@dataclass(frozen=True, slots=True)
class SessionCheck:
    """The answer for one request's token: the user when the session holds, else why not."""

    user_id: int | None
    reason: str
    """'ok', 'unknown' (no such session), 'ended' (logged out or ended by an admin), 'idle' or 'expired'."""
    touch: bool = False
    """Whether the caller should write `last_seen_at` now (see `touch_session`)."""

    @property
    def valid(self) -> bool:
        """Whether the session holds."""
        return self.user_id is not None


def digest(token: str) -> str:
    """The stored id of a token: its SHA-256 in hex (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(session: Session, user_id: int, now: datetime, rules: SessionRules) -> str:
    """Record a new session of `user_id` and return its token; sessions past their lifetime are pruned."""
    # Pruned here, at each login: every such row is refused anyway, and logins are rare enough.
    session.execute(delete(sessions).where(sessions.c.created_at < now - rules.lifetime))
    token = secrets.token_urlsafe(32)
    session.execute(insert(sessions).values(id=digest(token), user_id=user_id, created_at=now, last_seen_at=now,
                                            ended_at=None))
    return token


def check_session(session: Session, token: str, now: datetime, rules: SessionRules) -> SessionCheck:
    """Whether `token` opens a session now, and whose: one read by primary key."""
    row = session.execute(
        select(sessions.c.user_id, sessions.c.created_at, sessions.c.last_seen_at, sessions.c.ended_at)
        .where(sessions.c.id == digest(token))
    ).first()
    if row is None:
        return SessionCheck(None, "unknown")
    if row.ended_at is not None:
        return SessionCheck(None, "ended")
    if now - row.created_at >= rules.lifetime:
        return SessionCheck(None, "expired")
    if now - row.last_seen_at >= rules.idle:
        return SessionCheck(None, "idle")
    return SessionCheck(row.user_id, "ok", touch=now - row.last_seen_at >= rules.touch_every)


def touch_session(session: Session, token: str, now: datetime) -> None:
    """Note activity on a session that has not ended (the idle timeout counts from here)."""
    session.execute(update(sessions).where(sessions.c.id == digest(token), sessions.c.ended_at.is_(None))
                    .values(last_seen_at=now))


def end_session(session: Session, token: str, now: datetime) -> bool:
    """End one session (logout); whether it was open."""
    result = session.execute(update(sessions).where(sessions.c.id == digest(token), sessions.c.ended_at.is_(None))
                             .values(ended_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def end_user_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every open session of a user at once (password change, disabling); how many were open."""
    result = session.execute(update(sessions).where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
                             .values(ended_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]
