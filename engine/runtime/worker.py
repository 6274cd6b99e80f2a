"""The worker's heartbeat: `estateflow worker` records each completed pass, /healthz reads the newest.

    Heartbeat.start(name)                  this process: host, worker name, pid, start time
    record_pass(factory, heartbeat, ...)   after a pass: the (host, name) row gets its time and counts
    last_pass(session)                     the newest completed pass of any worker (None: never)

In the database, not in a file or in memory, so every web process on every host sees
the same answer. Counts only: never an item's field, so never personal data.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.store.db import transaction
from engine.store.models import WorkerPass

__all__ = ["Heartbeat", "PassCounts", "last_pass", "record_pass"]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Who is beating: one worker process."""

    host: str
    name: str
    pid: int
    started_at: datetime

    @classmethod
    def start(cls, name: str, now: datetime) -> Heartbeat:
        """This process, started `now`, under worker name `name`."""
        return cls(socket.gethostname()[:255], name[:64], os.getpid(), now)


@dataclass(frozen=True, slots=True)
class PassCounts:
    """What one pass did, as the heartbeat keeps it."""

    handled: int = 0
    tick_failed: int = 0
    sent: int = 0
    send_failed: int = 0


def record_pass(factory: sessionmaker[Session], heartbeat: Heartbeat, at: datetime, passes: int,
                counts: PassCounts) -> None:
    """Record that `heartbeat`'s worker completed its pass number `passes` at `at`."""
    values = {"pid": heartbeat.pid, "started_at": heartbeat.started_at, "last_pass_at": at, "passes": passes,
              "handled": counts.handled, "tick_failed": counts.tick_failed, "sent": counts.sent,
              "send_failed": counts.send_failed}
    with transaction(factory) as session:
        row = session.scalars(select(WorkerPass).where(WorkerPass.host == heartbeat.host,
                                                       WorkerPass.name == heartbeat.name)).one_or_none()
        if row is None:
            session.add(WorkerPass(host=heartbeat.host, name=heartbeat.name, **values))
        else:
            for column, value in values.items():
                setattr(row, column, value)


def last_pass(session: Session) -> WorkerPass | None:
    """The most recent completed pass of any worker."""
    return session.scalars(select(WorkerPass).order_by(WorkerPass.last_pass_at.desc()).limit(1)).first()
