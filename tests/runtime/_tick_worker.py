"""The worker of test_tick_race: a real `tick` pass in a process of its own (importable under spawn)."""

from __future__ import annotations

from typing import Any


def tick_in_process(url: str, workflows: str, moment: str, batch: int, barrier: Any, results: Any) -> None:
    """Wait for the other worker, run one tick pass at `moment`, report its counts."""
    from datetime import datetime

    from engine.clock import FixedClock
    from engine.runtime.tick import tick
    from engine.runtime.timers import Calendars
    from engine.store.db import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        clock = FixedClock(datetime.fromisoformat(moment))
        barrier.wait(60)
        report = tick(factory, clock, calendars=Calendars(workflows), batch=batch)
        results.put(("ok", report.escalated, report.busy, report.failed, report.taken))
    except BaseException as error:  # report, never hang the test
        results.put(("crash", repr(error), 0, 0, 0))
    finally:
        engine.dispose()
