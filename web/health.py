"""/healthz: is the site working? For monitoring and load balancers: no login, no cookie, no personal data.

    GET /healthz  → 200 {"status": "ok", ...} or 503 {"status": "failing", "failed": [...], ...}

Three checks, each reported on its own:
    database     the database answers
    migrations   it is at the migration head this code ships (new code deployed, `db upgrade` forgotten)
    worker       an `estateflow worker` completed a pass in the last 5 minutes: a dead worker
                 silently stops every escalation and notification, so it must show here
Times and revision names only: nothing about items, users or the request.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import Blueprint, Flask, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from engine.runtime.worker import last_pass
from engine.store.migrate import head_revision
from web import db

__all__ = ["WORKER_MAX_AGE", "bp", "init_app"]

WORKER_MAX_AGE = timedelta(minutes=5)
"""A worker pass older than this fails the check (the worker's default interval is 60 s)."""

bp = Blueprint("health", __name__)
log = logging.getLogger("estateflow.health")


@cache
def expected_head() -> str | None:
    """The newest migration of this code, read once per process (Alembic parses every script)."""
    return head_revision()


def init_app(app: Flask) -> None:
    """Register /healthz."""
    app.register_blueprint(bp)


def _worker(last: datetime | None, now: datetime) -> dict[str, Any]:
    if last is None:
        return {"ok": False, "last_pass_at": None, "seconds_ago": None,
                "limit_seconds": int(WORKER_MAX_AGE.total_seconds())}
    age = now - last
    return {"ok": age <= WORKER_MAX_AGE, "last_pass_at": last.isoformat(timespec="seconds"),
            "seconds_ago": max(0, int(age.total_seconds())), "limit_seconds": int(WORKER_MAX_AGE.total_seconds())}


def _current_revision(session: Session) -> str | None:
    """The database's migration revision (None: never migrated). Alembic's MigrationContext would
    inspect the schema and build its version table on every call, several times this whole check;
    reading the one-row table it keeps is enough, in a savepoint so a missing table spoils nothing."""
    try:
        with session.begin_nested():
            revisions = session.scalars(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None
    return ",".join(sorted(revisions)) or None


def checks(now: datetime) -> dict[str, dict[str, Any]]:
    """The three checks, each with `ok`; those after a failed database check fail too, unknown."""
    expected = expected_head()
    result: dict[str, dict[str, Any]] = {
        "database": {"ok": False},
        "migrations": {"ok": False, "current": None, "expected": expected},
        "worker": _worker(None, now),
    }
    session = db.session()
    try:
        session.execute(text("SELECT 1"))
        result["database"]["ok"] = True
        current = _current_revision(session)
        result["migrations"].update(ok=current == expected, current=current)
        if current == expected:  # before the head the heartbeat table may not exist yet
            found = last_pass(session)
            result["worker"] = _worker(found.last_pass_at if found else None, now)
    except SQLAlchemyError as error:
        # The class name only: a driver's message may quote a statement and its parameters.
        log.warning("healthz: the database did not answer (%s)", type(error).__name__)
    finally:
        session.rollback()
    return result


@bp.get("/healthz")
def healthz() -> Response:
    """The checks as JSON: 200 when all pass, 503 naming those that failed."""
    result = checks(db.clock().now())
    failed = [name for name, check in result.items() if not check["ok"]]
    response = jsonify({"status": "failing" if failed else "ok", "failed": failed, **result})
    response.status_code = 503 if failed else 200
    response.headers["Cache-Control"] = "no-store"
    return response
