"""Two real processes fire on one item with the same version: exactly one wins.

Each round both processes are handed the version the item is at, meet at a
barrier and fire at once; the loser must get `conflict` (early, or from the
version-checked UPDATE), and the item must show exactly one more transition.
"""

from __future__ import annotations

import multiprocessing

from _race import fire_on_request

ROUNDS = 5


def test_two_processes_one_version_exactly_one_wins(world):
    context = multiprocessing.get_context("spawn")
    item = world.fire(world.create(), "start", data={"team": "a"})
    barrier, results = context.Barrier(2), context.Queue()
    tasks = [context.Queue(), context.Queue()]
    users = [world.users[("worker", "demo")], world.users[("boss", "demo")]]
    processes = [context.Process(target=fire_on_request, args=(world.db.url, item.id, user, queue, barrier, results))
                 for user, queue in zip(users, tasks, strict=True)]
    for p in processes:
        p.start()
    try:
        for n in range(ROUNDS):
            version = item.version + n
            for queue in tasks:
                queue.put(version)
            outcomes = sorted(results.get(timeout=60) for _ in processes)
            assert outcomes == [("conflict", None), ("ok", version + 1)], outcomes
            [row] = world.rows("items", id=item.id)
            history = world.rows("item_history", item_id=item.id)
            assert row["version"] == version + 1 == len(history)
            assert row["data"]["count"] == item.values["count"] + n + 1
    finally:
        for queue in tasks:
            queue.put(None)
        for p in processes:
            p.join(30)
