"""The two logs of the organisation: what was changed (audit) and whose personal data was seen (access).

    record(session, actor, target=, target_id=, action=, changes=, estate_id=, unit_id=)   one audit row
    accessed(session, actor, kind, estate_id=, item_id=, unit_id=, detail=)               one access row
    prune_access_log(session, now, keep_days)                                             drop rows past retention
    access_log_days(environ)                                          ESTATEFLOW_ACCESS_LOG_DAYS, at least 183

Callers write in their own transaction, so a refused change leaves no audit row and a
recorded change always has one. `changes` maps a field to [old, new]; `detail` never
holds the personal values themselves, only what kind of thing was seen or exported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.clock import Clock, SystemClock
from engine.store.models import AccessLog, AuditLog

__all__ = ["DEFAULT_ACCESS_LOG_DAYS", "MIN_ACCESS_LOG_DAYS", "access_log_days", "accessed", "prune_access_log",
           "record"]

MIN_ACCESS_LOG_DAYS = 183
"""The access log is kept at least six months, whatever the setting says."""
DEFAULT_ACCESS_LOG_DAYS = 365
_CLOCK = SystemClock()


def record(session: Session, actor: Actor, *, target: str, target_id: str | int, action: str,
           changes: Mapping[str, Any] | None = None, estate_id: str | None = None, unit_id: int | None = None,
           clock: Clock | None = None) -> None:
    """Add one audit row: `actor` did `action` to `target` `target_id` (changes: field → [old, new])."""
    session.add(AuditLog(at=(clock or _CLOCK).now(), actor_id=actor.user_id, actor_name=actor.name,
                         estate_id=estate_id, unit_id=unit_id, target=target, target_id=str(target_id),
                         action=action, changes=dict(changes or {})))


def accessed(session: Session, actor: Actor, kind: str, *, estate_id: str | None = None, item_id: int | None = None,
             unit_id: int | None = None, detail: str = "", clock: Clock | None = None) -> None:
    """Add one access row: `actor` saw personal data in full, exported, looked up or acted under PIPL."""
    session.add(AccessLog(at=(clock or _CLOCK).now(), user_id=actor.user_id, user_name=actor.name,
                          estate_id=estate_id, kind=kind, item_id=item_id, unit_id=unit_id, detail=detail[:300]))


def prune_access_log(session: Session, now: datetime, keep_days: int) -> int:
    """Delete access rows older than `keep_days` (never fewer than MIN_ACCESS_LOG_DAYS); returns how many."""
    cutoff = now - timedelta(days=max(keep_days, MIN_ACCESS_LOG_DAYS))
    result = session.execute(delete(AccessLog).where(AccessLog.at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def access_log_days(environ: Mapping[str, str] = os.environ) -> int:
    """How long the access log is kept: ESTATEFLOW_ACCESS_LOG_DAYS (default 365), never under 183 days.

    A value that is not a whole number falls back to the default rather than pruning early.
    """
    raw = environ.get("ESTATEFLOW_ACCESS_LOG_DAYS", "").strip()
    days = int(raw) if raw.isdigit() else DEFAULT_ACCESS_LOG_DAYS
    return max(days, MIN_ACCESS_LOG_DAYS)
