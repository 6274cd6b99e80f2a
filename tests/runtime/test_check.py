"""`estateflow check`: a clean database passes; each invariant broken by hand is reported, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from engine.cli.main import main
from engine.views.invariants import violations


@pytest.fixture
def items(world, clock):
    """A few items of every shape: plain, spawning (links both ways), paused, with pending deadlines."""
    made = {}
    made["plain"] = world.create(kind="noise", phone="13812345678")
    leak = world.fire(world.create(kind="leak"), "start", data={"team": "a"})
    made["parent"] = world.fire(leak, "finish", role="worker")
    [link] = world.rows("item_links", from_item_id=made["parent"].id, kind="spawned")
    made["child_id"] = link["to_item_id"]
    made["timed"] = world.create(workflow="timed", mode="working", unit="1-101")
    working = world.fire(world.create(workflow="timed", mode="none", unit="1-102"), "start")
    clock.advance(timedelta(hours=1))
    made["paused"] = world.fire(working, "hold")
    return made


def check(world, *args):
    return CliRunner().invoke(main, ["check", "--url", world.db.url, *args])


def execute(world, sql, **params):
    with world.db.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_a_clean_database_passes(world, items):
    result = check(world)
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 5 item(s) checked, every invariant holds\n"


def test_an_estate_alone_and_an_unknown_estate(world, items):
    world.create(estate="other", role="clerk")
    assert check(world, "--estate", "other").stdout == "OK: 1 item(s) of estate other checked, every invariant holds\n"
    result = check(world, "--estate", "nowhere")
    assert (result.exit_code, result.stderr) == (1, "there is no estate 'nowhere'\n")


def test_a_state_other_than_the_last_transitions_target_is_reported(world, items):
    plain = items["plain"]
    execute(world, "UPDATE items SET state = 'working' WHERE id = :id", id=plain.id)
    result = check(world)
    assert result.exit_code == 1
    assert result.stdout == (f"{plain.number} (estate demo, item id {plain.id}): state is 'working' "
                             "but its last transition went to 'open'\n")
    assert result.stderr == "1 violation(s) among 5 item(s)\n"


def test_a_version_other_than_the_number_of_transitions_is_reported(world, items):
    parent = items["parent"]
    execute(world, "UPDATE items SET version = version + 1 WHERE id = :id", id=parent.id)
    result = check(world)
    assert result.exit_code == 1
    assert f"item id {parent.id}): version is 4 but its history has 3 transition row(s)" in result.stdout


def test_an_item_without_history_is_reported(world, items):
    plain = items["plain"]
    execute(world, "DELETE FROM item_history WHERE item_id = :id", id=plain.id)
    assert "has no transition row in its history" in check(world).stdout


def test_a_pending_deadline_of_another_state_is_reported(world, items):
    timed = items["timed"]
    execute(world, "UPDATE item_deadlines SET state = 'working' WHERE item_id = :id", id=timed.id)
    result = check(world)
    assert result.exit_code == 1
    assert (f"item id {timed.id}): has pending deadlines of state 'working', "
            "which is neither its current state 'open'") in result.stdout


def test_a_paused_items_suspended_deadlines_are_allowed_but_no_others(world, items):
    paused = items["paused"]
    [suspended] = world.rows("item_deadlines", item_id=paused.id, status="pending")
    assert suspended["state"] == "working"  # the state it paused from: fine
    execute(world, "UPDATE items SET paused_from = 'checking' WHERE id = :id", id=paused.id)
    assert "nor the state it paused from" in check(world).stdout


def test_a_link_without_its_way_back_is_reported(world, items):
    parent, child = items["parent"], items["child_id"]
    execute(world, "DELETE FROM item_links WHERE from_item_id = :id", id=child)
    result = check(world)
    assert result.exit_code == 1
    assert result.stdout == (f"{parent.number} (estate demo, item id {parent.id}): links to item id {child} "
                             "as 'spawned' but that item has no 'spawned_from' link back\n")


def test_a_link_actions_pair_is_checked_like_a_spawns(world, items):
    plain, child = items["plain"], items["child_id"]
    # What a `link` action writes (engine/runtime/item_refs.py): both ways is clean, one way is reported.
    execute(world, "INSERT INTO item_links (from_item_id, to_item_id, kind) VALUES (:a, :b, 'linked'), "
                   "(:b, :a, 'linked_from')", a=plain.id, b=child)
    assert check(world).exit_code == 0
    execute(world, "DELETE FROM item_links WHERE kind = 'linked_from'")
    result = check(world)
    assert result.exit_code == 1
    assert result.stdout == (f"{plain.number} (estate demo, item id {plain.id}): links to item id {child} "
                             "as 'linked' but that item has no 'linked_from' link back\n")


def test_a_paused_item_without_a_pause_start_is_reported(world, items):
    paused = items["paused"]
    execute(world, "UPDATE items SET paused_since = NULL WHERE id = :id", id=paused.id)
    result = check(world)
    assert result.exit_code == 1
    assert "is in the paused state 'waiting' but no pause start (paused_since) is recorded" in result.stdout


def test_a_pause_start_outside_a_paused_state_is_reported(world, items):
    plain = items["plain"]
    execute(world, "UPDATE items SET paused_since = created_at WHERE id = :id", id=plain.id)
    assert "has a pause start (paused_since) but state 'open' is not a paused state" in check(world).stdout


def test_items_are_read_in_batches_and_each_violation_names_no_field_value(world, items):
    for item in (items["plain"], items["timed"]):
        execute(world, "UPDATE items SET version = 7 WHERE id = :id", id=item.id)
    found = list(violations(world.db.factory, batch=2))  # several batches, every item still seen
    assert [v.item_id for v in found] == sorted([items["plain"].id, items["timed"].id])
    assert not any("13812345678" in str(v) or "1-101" in str(v) for v in found)
