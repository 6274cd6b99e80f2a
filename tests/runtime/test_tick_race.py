"""Two real tick processes racing over the same due rows fire each exactly once (SQLite and PostgreSQL).

200 items each have an escalation ladder (1 h, 4 h, 1 d); an hour later both processes start
a pass at once over the 200 due rows, in small batches so they keep colliding. Every row must
be handled once: one 'escalated' history event per row, one outbox row, none left pending.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import timedelta
from pathlib import Path

from _tick_worker import tick_in_process

ITEMS = 200
# Not imported from conftest: with tests/web collected in the same run, `conftest` may be web's.
WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "good" / "runtime"


def test_two_tick_processes_fire_each_row_exactly_once(world, clock):
    for n in range(ITEMS):
        world.create(workflow="timed", mode="ladder", unit=f"{n}")
    clock.advance(timedelta(hours=1))
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    args = (world.db.url, str(WORKFLOWS), clock.now().isoformat(), 25, barrier, results)
    processes = [context.Process(target=tick_in_process, args=args) for _ in range(2)]
    for p in processes:
        p.start()
    try:
        outcomes = [results.get(timeout=120) for _ in processes]
    finally:
        for p in processes:
            p.join(30)
    assert all(o[0] == "ok" and o[3] == 0 for o in outcomes), outcomes
    leftover = world.tick()  # a row skipped as busy by one worker and not reached by the other
    assert sum(o[1] for o in outcomes) + leftover.escalated == ITEMS
    assert world.tick().handled == 0
    escalations = [h for h in world.rows("item_history") if h["event"] == "escalated"]
    assert len(escalations) == ITEMS
    assert set(Counter(h["item_id"] for h in escalations).values()) == {1}
    assert len(world.rows("outbox")) == ITEMS
    due = [d for d in world.rows("item_deadlines") if d["due_at"] <= clock.now()]
    assert len(due) == ITEMS and {d["status"] for d in due} == {"done"}
    assert {r["version"] for r in world.rows("items")} == {1}
