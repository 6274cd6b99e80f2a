"""The worker of test_concurrency: a process firing on request (importable under spawn)."""

from __future__ import annotations

from typing import Any


def fire_on_request(url: str, item_id: int, user_id: int, tasks: Any, barrier: Any, results: Any) -> None:
    """For each version received: wait for the other process, then fire `remark` with it."""
    from engine.access.actor import load_actor
    from engine.errors import TransitionError
    from engine.runtime.items import fire
    from engine.store.db import make_engine, make_session_factory, transaction

    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            actor = load_actor(session, user_id)
        while (version := tasks.get(timeout=60)) is not None:
            barrier.wait(30)
            try:
                with transaction(factory) as session:
                    item = fire(session, item_id, "remark", actor, {"note": f"from {user_id}"}, None, version)
                results.put(("ok", item.version))
            except TransitionError as error:
                results.put((error.code, None))
    except BaseException as error:  # report, never hang the test
        results.put(("crash", repr(error)))
    finally:
        engine.dispose()
