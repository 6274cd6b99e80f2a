"""Random walks through the test workflow: the history always explains the item.

After every step, successful or refused: the item's state is the last transition
row's target, its `version` is the number of transition rows, a refused fire
wrote nothing at all, and every pending deadline belongs to the current state (or,
in a paused state, to the state the item paused from: those wait, suspended).
The second walk, through the `timed` workflow, lets time pass and ticks between steps.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import event, given
from hypothesis import strategies as st

from engine.errors import TransitionError

NAMES = ["start"] * 3 + ["remark"] * 2 + ["finish"] * 3 + ["approve"] * 2 + ["reject"] * 2 + [
    "auto_close", "cancel", "no_such"]
# Weighted towards steps that can succeed, so walks get past the first state.
ROLES = ["boss", "boss", "worker", "worker", "clerk", "system"]
FILLED = {"team": "a", "note": "好"}
DATA = [FILLED, FILLED, FILLED, None, {"note": "已处理"}, {**FILLED, "kind": "leak"}, {**FILLED, "amount": 9000},
        {**FILLED, "amount": "100"}, {"count": "x"}, {"nope": 1}]

steps = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(ROLES), st.sampled_from(DATA),
              st.sampled_from([None, None, None, None, "stale"])),
    min_size=1, max_size=15,
)


def _trail(world, item_id):
    return {
        "item": world.rows("items", id=item_id),
        "history": world.rows("item_history", item_id=item_id),
        "outbox": world.rows("outbox", item_id=item_id),
        "links": world.rows("item_links", from_item_id=item_id),
        "counters": world.rows("counters"),
        "deadlines": world.rows("item_deadlines", item_id=item_id),
    }


def _assert_explained(world, item_id):
    """The row agrees with its history, and its pending deadlines with its state; returns the version."""
    [row] = world.rows("items", id=item_id)
    transitions = [h for h in world.rows("item_history", item_id=item_id) if h["kind"] == "transition"]
    assert row["state"] == transitions[-1]["to_state"]
    assert row["version"] == len(transitions)
    pending = {d["state"] for d in world.rows("item_deadlines", item_id=item_id) if d["status"] == "pending"}
    assert pending <= {row["state"], row["paused_from"]} - {None}
    assert row["paused_from"] is None or row["paused_since"] is not None
    return row["version"]


@given(kind=st.sampled_from(["leak", "noise"]), walk=steps)
def test_history_explains_the_item_and_refusals_write_nothing(world, kind, walk):
    item = world.create(kind=kind)
    version = item.version
    for name, role, data, stale in walk:
        before = _trail(world, item.id)
        try:
            item = world.fire(item.id, name, role=role, data=data,
                              version=version - 1 if stale else version)
        except TransitionError as error:
            assert error.code in {"unknown_transition", "not_permitted", "invalid_fields", "guard_failed",
                                  "conflict"}
            assert _trail(world, item.id) == before
        else:
            assert stale is None and item.version == version + 1
            version = item.version
            event(f"reached {item.state}")
        assert _assert_explained(world, item.id) == version


TIMED_NAMES = ["start"] * 4 + ["hold"] * 3 + ["resume"] * 2 + ["redirect", "check", "reopen", "revisit", "urgent",
                                                                  "remark", "auto_close", "done", "expire", "cancel"]
TIMED_DATA = [None, None, {"ok": True}, {"resume_on": "2026-03-04T10:00:00+08:00"}, {"note": "已联系"}]
WAITS = [None, None, timedelta(minutes=30), timedelta(hours=3), timedelta(days=1), timedelta(days=9)]
timed_steps = st.lists(
    st.tuples(st.sampled_from(TIMED_NAMES), st.sampled_from(["boss"] * 4 + ["clerk", "system"]),
              st.sampled_from(TIMED_DATA), st.sampled_from(WAITS)),
    min_size=3, max_size=15,
)


@given(mode=st.sampled_from(["ladder", "working", "warn", "none"]), walk=timed_steps)
def test_pending_deadlines_belong_to_the_current_state_while_time_passes(world, mode, walk):
    item = world.create(workflow="timed", mode=mode, unit="1-101")
    version = _assert_explained(world, item.id)
    for name, role, data, wait in walk:
        before = _trail(world, item.id)
        try:
            world.fire(item.id, name, role=role, data=data, version=version)
        except TransitionError:
            assert _trail(world, item.id) == before
        version = _assert_explained(world, item.id)
        if wait is not None:  # time passes; due limits and timers fire
            world.clock.advance(wait)
            world.tick()
            version = _assert_explained(world, item.id)
        event(f"reached {world.rows('items', id=item.id)[0]['state']}")
