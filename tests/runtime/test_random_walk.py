"""Random walks through the test workflow: the history always explains the item.

After every step, successful or refused: the item's state is the last transition
row's target, its `version` is the number of transition rows, and a refused fire
wrote nothing at all.
"""

from __future__ import annotations

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
    }


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
        [row] = world.rows("items", id=item.id)
        transitions = [h for h in world.rows("item_history", item_id=item.id) if h["kind"] == "transition"]
        assert row["state"] == transitions[-1]["to_state"]
        assert row["version"] == len(transitions) == version
