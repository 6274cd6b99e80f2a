"""`estateflow worker` keeps the access log to its retention: older rows go on the first pass, then daily."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

from test_worker import start_worker, stop, wait_for

from engine.store.db import transaction
from engine.store.models import AccessLog


def test_the_worker_removes_access_rows_past_retention_and_keeps_six_months(world):
    now = datetime.now(UTC)
    with transaction(world.db.factory) as session:
        for days in (400, 200, 1):
            session.add(AccessLog(at=now - timedelta(days=days), user_id=1, user_name="前台", estate_id="demo",
                                  kind="view", item_id=days, detail="个人信息"))
    # The default retention is a year: the 200-day-old row stays.
    worker = start_worker(world.db.url, "--name", "prune")
    try:
        assert wait_for(lambda: any(r["passes"] >= 1 for r in world.rows("worker_passes"))), "no pass"
    finally:
        status, _out, err = stop(worker, signal.SIGTERM)
    assert status == 0, err
    assert sorted(r["item_id"] for r in world.rows("access_log")) == [1, 200]
