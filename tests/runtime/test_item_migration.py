"""Moving running items to a new version of their workflow (engine/runtime/item_migration.py).

Version 2 of the `timed` workflow (tests/runtime/migration_v2/timed.yaml) renames 处理中 `working`
to 办理中 `handling`, cuts its limit from 8h to 4h and adds the required field 类别.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.access.actor import Actor
from engine.errors import Conflict, UnmappedStates
from engine.runtime.item_migration import apply_migration, plan_migration, run_migration
from engine.runtime.registry import REGISTRY
from engine.runtime.tick import advance
from engine.store.db import transaction
from engine.views.invariants import violations
from engine.views.timeline import timeline
from tests._loaders import loader_of

V2 = Path(__file__).parent / "migration_v2"
RENAMED = {"working": "handling"}
ADMIN = Actor(None, "管理员甲", frozenset({"admin"}), None)


def at(text: str) -> datetime:
    """A Shanghai time such as '2026-03-02 10:00'."""
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00")


def publish_v2(world) -> None:
    loader = loader_of(V2)
    with transaction(world.db.factory) as session:
        REGISTRY.publish(session, loader.load(V2 / "timed.yaml"), roles=loader.catalogue.document,
                         now=world.clock.now())


def plan(world, **options):
    with world.db.factory() as session:
        return plan_migration(session, "timed", "demo", calendars=world.calendars, clock=world.clock, **options)


def run(world, **options):
    return run_migration(world.db.factory, "timed", "demo", actor=ADMIN, calendars=world.calendars,
                         clock=world.clock, **options)


def item_row(world, item):
    [row] = world.rows("items", id=item.id)
    return row


def migrated(world, item):
    return [r for r in world.rows("item_history", item_id=item.id) if r["event"] == "migrated"]


def pending(world, item):
    return [(r["state"], r["kind"], r["due_at"]) for r in world.rows("item_deadlines", item_id=item.id)
            if r["status"] == "pending"]


def started(world, **data):
    """An item in 处理中 since 09:00 (its 8h limit: 17:00)."""
    item = world.create(workflow="timed", mode="none", unit="1-101", **data)
    return world.fire(item, "start")


def test_the_dry_run_lists_each_move_missing_fields_and_changed_deadlines(world, clock):
    handled, waiting = started(world), world.create(workflow="timed", mode="ladder", unit="1-102")
    closed = world.fire(world.create(workflow="timed", mode="none", unit="1-103"), "cancel")
    publish_v2(world)
    clock.advance(timedelta(minutes=30))
    before = world.snapshot()
    found = plan(world, mapping=RENAMED)
    assert world.snapshot() == before  # a dry run writes nothing
    assert (found.target_version, found.unmapped) == (2, {})
    moves = {m.number: m for m in found.moves}
    assert closed.number not in moves  # a final state is not open
    move = moves[handled.number]
    assert (move.from_version, move.old_state, move.new_state) == (1, "working", "handling")
    assert (move.old_label, move.new_label, move.missing_fields) == ("处理中", "办理中", ("类别",))
    [change] = move.deadlines
    assert (change.old_due, change.new_due) == (at("2026-03-02 17:00"), at("2026-03-02 13:00"))
    assert "办理中" in change.label and "4小时" in change.label
    unchanged = moves[waiting.number]
    assert (unchanged.old_state, unchanged.new_state, unchanged.deadlines) == ("open", "open", ())
    assert plan(world, mapping=RENAMED, from_version=2).moves == ()  # only the items on the version asked for


def test_applying_moves_each_item_once_with_one_event_and_a_new_version(world, clock):
    item = started(world, phone="13812345678")
    publish_v2(world)
    clock.advance(timedelta(hours=1))
    report = run(world, mapping=RENAMED, batch=1)
    assert (report.moved, report.skipped, report.target_version) == (1, (), 2)
    row = item_row(world, item)
    assert (row["state"], row["definition_version"], row["version"]) == ("handling", 2, item.version + 1)
    assert row["state_entered_at"] == at("2026-03-02 09:00")  # renamed, not entered again
    assert row["deadline_at"] == at("2026-03-02 13:00")
    assert pending(world, item) == [("handling", "escalate", at("2026-03-02 13:00"))]
    [event] = migrated(world, item)
    assert (event["kind"], event["from_state"], event["to_state"], event["actor_name"]) == (
        "event", "working", "handling", "管理员甲")
    assert event["changes"]["from_version"] == 1 and event["changes"]["to_version"] == 2
    assert event["changes"]["map"] == RENAMED
    with pytest.raises(Conflict):  # a form opened on the old definition
        world.fire(item, "check", version=item.version)
    assert world.fire(item, "check", version=item.version + 1).state == "checking"
    assert list(violations(world.db.factory)) == []
    assert run(world, mapping=RENAMED).moved == 0  # safe to run again


def test_the_timeline_says_which_versions_and_states(world, clock):
    item = started(world)
    publish_v2(world)
    run(world, mapping=RENAMED)
    with world.db.factory() as session:
        entries = timeline(session, world.fire(item, "remark"))
    assert "流程升级：第 1 版 → 第 2 版（处理中 → 办理中）" in [e.label for e in entries]


def test_an_unmapped_state_refuses_the_whole_run_and_writes_nothing(world, clock):
    first, second = started(world), started(world)
    world.create(workflow="timed", mode="none", unit="1-104")
    publish_v2(world)
    before = world.snapshot()
    with pytest.raises(UnmappedStates) as refused:
        run(world)
    assert refused.value.states == {"working": [first.number, second.number]}
    with pytest.raises(UnmappedStates):
        run(world, mapping={"working": "nowhere"})  # a map to an unknown state is no target either
    assert world.snapshot() == before


def test_an_item_fired_after_planning_is_skipped_reported_and_left_alone(world, clock):
    item = world.create(workflow="timed", mode="none", unit="1-101")
    other = world.create(workflow="timed", mode="none", unit="1-102")
    publish_v2(world)
    found = plan(world)
    fired = world.fire(item, "start")  # a clerk acts between the plan and its application
    report = apply_migration(world.db.factory, found, actor=ADMIN, calendars=world.calendars, clock=world.clock)
    assert (report.moved, [number for number, _ in report.skipped]) == (1, [item.number])
    row = item_row(world, item)
    assert (row["definition_version"], row["state"], row["version"]) == (1, "working", fired.version)
    assert migrated(world, item) == [] and len(migrated(world, other)) == 1


def test_an_escalation_already_done_stays_done(world, clock):
    item = started(world)
    publish_v2(world)
    advance(world.db.factory, clock, at("2026-03-02 17:30"), calendars=world.calendars)
    assert item_row(world, item)["overdue"]  # the old 8h limit fired at 17:00
    run(world, mapping=RENAMED)
    assert pending(world, item) == []  # the new 4h rule is the rule that fired: not armed again
    row = item_row(world, item)
    assert row["overdue"] and row["deadline_at"] is None
    assert world.tick().handled == 0


def test_a_pause_in_the_state_still_does_not_count(world, clock):
    item = started(world)
    clock.set(at("2026-03-02 10:00"))
    world.fire(item, "hold")
    clock.set(at("2026-03-02 12:00"))
    item = world.fire(item, "resume")
    publish_v2(world)
    run(world, mapping=RENAMED)
    assert item_row(world, item)["deadline_at"] == at("2026-03-02 15:00")  # 09:00 + 4h + 2h paused


def test_a_paused_item_keeps_its_suspended_limit_under_the_new_name(world, clock):
    item = started(world)
    clock.set(at("2026-03-02 10:00"))
    world.fire(item, "hold")
    publish_v2(world)
    run(world, mapping=RENAMED)
    row = item_row(world, item)
    assert (row["state"], row["paused_from"], row["deadline_at"]) == ("waiting", "handling", None)
    assert pending(world, item) == [("handling", "escalate", at("2026-03-02 13:00"))]
    clock.set(at("2026-03-02 11:00"))
    back = world.fire(item, "resume", version=row["version"])
    assert (back.state, back.deadline_at) == ("handling", at("2026-03-02 14:00"))  # moved by the hour paused
    assert list(violations(world.db.factory)) == []
