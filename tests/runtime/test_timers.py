"""Time limits with a controlled clock: deadlines, windows, pauses, escalations and timers, fired once.

The workflow is tests/data/good/runtime/timed.yaml; its calendar (same folder) has 国庆节
2026 (10-01..10-07), working hours 08:30-12:00 and 13:30-17:30, and the 调休 Saturday 10-10.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.runtime import tick as ticking
from engine.runtime import timers
from engine.store import queries

SH = "+08:00"


def at(text: str) -> datetime:
    """A Shanghai time such as '2026-03-02 10:00'."""
    return datetime.fromisoformat(text.replace(" ", "T") + SH)


def events(world, item, event=None):
    rows = [r for r in world.rows("item_history", item_id=item.id) if r["kind"] == "event"]
    return [r for r in rows if event is None or r["event"] == event]


def deadlines(world, item, **where):
    return world.rows("item_deadlines", item_id=item.id, **where)


def item_row(world, item):
    [row] = world.rows("items", id=item.id)
    return row


def status(world, item):
    row = item_row(world, item)
    with world.db.engine.connect() as connection:
        return timers.status(connection, item.id, row["state"], row["overdue"], world.clock.now())


def advance(world, delta):
    """Move the clock by `delta`, ticking at every due instant on the way (like a scenario's advance)."""
    ticking.advance(world.db.factory, world.clock, world.clock.now() + delta, calendars=world.calendars)


def test_an_escalation_fires_once_notifies_each_role_and_keeps_the_version(world, clock):
    item = world.create(workflow="timed", mode="ladder", unit="1-101", phone="13812345678")
    assert item.deadline_at == at("2026-03-02 10:00") and not item.overdue
    clock.advance(timedelta(minutes=59))
    assert world.tick().handled == 0
    clock.advance(timedelta(minutes=1))
    first, second = world.tick(), world.tick()
    assert (first.escalated, second.handled) == (1, 0)
    [event] = events(world, item)
    assert (event["event"], event["from_state"], event["actor_id"]) == ("escalated", "open", None)
    assert event["changes"] == {"escalate_to": [None, ["worker"]]}
    [mail] = world.rows("outbox", item_id=item.id)
    assert mail["role"] == "worker"
    assert mail["body"] == "【超时】计时工单 TM-000001 已超过时限（待处理，1小时）"
    row = item_row(world, item)
    assert (row["version"], row["overdue"], row["deadline_at"]) == (1, True, at("2026-03-02 13:00"))
    assert len(world.rows("item_history", item_id=item.id)) == 2
    assert "13812345678" not in str(world.rows("outbox")) + str(events(world, item))


def test_a_limit_that_fires_a_transition_bumps_the_version_and_keeps_the_lateness(world, clock):
    item = world.fire(world.create(workflow="timed", mode="none", unit="1"), "urgent")
    clock.advance(timedelta(hours=2))
    report = world.tick()
    assert report.escalated == 1
    row = item_row(world, item)
    assert (row["state"], row["version"], row["overdue"], row["deadline_at"]) == ("closed", 3, False, None)
    history = world.rows("item_history", item_id=item.id)
    assert [(h["kind"], h["event"] or h["transition"]) for h in history] == [
        ("transition", None), ("transition", "urgent"), ("event", "escalated"), ("transition", "expire")]
    expire = history[-1]
    assert (expire["actor_id"], expire["actor_name"], expire["comment"]) == (None, "系统", "超时自动执行")
    assert expire["changes"]["_was_overdue"] == [True, False]
    assert [d["status"] for d in deadlines(world, item)] == ["done"]


def test_an_item_that_moved_on_before_its_deadline_is_not_escalated(world, clock):
    item = world.create(workflow="timed", mode="ladder", unit="1")
    clock.advance(timedelta(minutes=30))
    item = world.fire(item, "start")
    assert {d["status"] for d in deadlines(world, item, state="open")} == {"cancelled"}
    clock.advance(timedelta(days=2))
    report = world.tick()
    assert report.escalated == 1  # working's own 8 h limit, nothing of `open`
    assert [(e["from_state"], e["event"]) for e in events(world, item)] == [("working", "escalated")]
    assert [m["role"] for m in world.rows("outbox", item_id=item.id)] == ["boss"]


@pytest.mark.parametrize(("created", "mode", "due"), [
    ("2026-09-30 10:00", "working", "2026-10-09 10:00"),  # 国庆节 and the weekend inside it do not count
    ("2026-10-09 10:00", "working", "2026-10-12 10:00"),  # the 调休 Saturday counts, the Sunday does not
    ("2026-10-09 16:00", "hours", "2026-10-10 11:00"),    # 1.5 h on Friday, 2.5 h on the 调休 Saturday
    ("2026-09-30 16:00", "hours", "2026-10-08 11:00"),    # 1.5 h, the holiday, 2.5 h on Thursday
    ("2026-03-06 16:00", "hours", "2026-03-09 11:00"),    # an ordinary weekend
    ("2026-03-02 12:30", "hours", "2026-03-02 17:30"),    # the lunch break does not count
])
def test_working_time_skips_weekends_holidays_and_counts_make_up_days(world, clock, created, mode, due):
    clock.set(at(created))
    item = world.create(workflow="timed", mode=mode, unit="1")
    assert item.deadline_at == at(due)
    clock.set(at(due) - timedelta(minutes=1))
    assert world.tick().handled == 0
    clock.set(at(due))
    assert world.tick().escalated == 1


@pytest.mark.parametrize(("created", "due"), [
    ("2026-03-02 15:00", "2026-03-03 00:00"), ("2026-03-02 00:00", "2026-03-03 00:00"),
    ("2026-03-02 23:59", "2026-03-03 00:00"),
])
def test_by_end_of_day_is_midnight_ending_the_local_day(world, clock, created, due):
    clock.set(at(created))
    assert world.create(workflow="timed", mode="same_day", unit="1").deadline_at == at(due)


def test_since_a_date_field_counts_from_the_residents_own_deadline(world):
    own = world.create(workflow="timed", mode="own", unit="1", deadline="2026-03-06")
    assert own.deadline_at == at("2026-03-07 00:00")
    unset = world.create(workflow="timed", mode="own", unit="1")
    assert unset.deadline_at is None and status(world, unset) == "none"
    assert deadlines(world, unset) == []


def test_a_paused_state_pushes_the_deadline_back_by_exactly_the_time_spent(world, clock):
    item = world.fire(world.create(workflow="timed", mode="none", unit="1"), "start")
    assert item.deadline_at == at("2026-03-02 17:00")
    clock.advance(timedelta(hours=2, minutes=17, seconds=3))
    item = world.fire(item, "hold")
    assert (item.state, item.deadline_at, status(world, item)) == ("waiting", None, "none")
    clock.advance(timedelta(days=3, hours=5))  # far past the old deadline: suspended rows do not fire
    assert world.tick().handled == 0
    assert [d["status"] for d in deadlines(world, item)] == ["pending"]
    item = world.fire(item, "resume")
    spent = timedelta(days=3, hours=5)
    assert item.deadline_at == at("2026-03-02 17:00") + spent
    row = item_row(world, item)
    assert row["state_entered_at"] == at("2026-03-02 09:00")  # not re-entered
    assert (row["paused_seconds"], row["paused_since"], row["paused_from"]) == (spent.total_seconds(), None, None)
    clock.set(item.deadline_at - timedelta(seconds=1))
    assert world.tick().handled == 0
    clock.set(item.deadline_at)
    assert world.tick().escalated == 1 and item_row(world, item)["overdue"]


def test_from_a_pause_to_another_state_the_old_limits_are_cancelled(world, clock):
    item = world.fire(world.create(workflow="timed", mode="none", unit="1"), "start")
    item = world.fire(item, "hold")
    clock.advance(timedelta(hours=1))
    item = world.fire(item, "redirect")
    assert [(d["state"], d["kind"], d["status"]) for d in deadlines(world, item)] == [
        ("working", "escalate", "cancelled"), ("checking", "timer", "pending")]
    assert item_row(world, item)["paused_seconds"] == 3600


def test_a_paused_states_own_timer_resumes_the_item_on_its_date(world, clock):
    item = world.fire(world.create(workflow="timed", mode="none", unit="1"), "start")
    clock.advance(timedelta(hours=1))
    item = world.fire(item, "hold", data={"resume_on": "2026-03-04T10:00:00+08:00"})
    advance(world, timedelta(days=3))
    row = item_row(world, item)
    assert (row["state"], row["version"], row["paused_since"]) == ("working", 4, None)
    [resume] = [h for h in world.rows("item_history", item_id=item.id) if h["transition"] == "resume"]
    assert (resume["actor_id"], resume["actor_name"], resume["at"]) == (None, "系统", at("2026-03-04 10:00"))
    # Paused from Monday 10:00 to Wednesday 10:00: the 17:00 limit moved two days on, and passed since.
    [limit] = deadlines(world, item, state="working")
    assert (limit["due_at"], limit["status"]) == (at("2026-03-04 17:00"), "done")
    assert row["overdue"]


def test_a_warning_at_80_percent_notifies_before_the_limit(world, clock):
    item = world.create(workflow="timed", mode="warn", unit="1")
    clock.advance(timedelta(hours=7, minutes=59))
    assert world.tick().handled == 0
    clock.advance(timedelta(minutes=1))
    assert world.tick().warned == 1
    [warning] = events(world, item)
    assert warning["event"] == "warned" and not item_row(world, item)["overdue"]
    assert world.rows("outbox", item_id=item.id)[0]["body"].startswith("【预警】计时工单 TM-000001 即将超过时限")
    clock.advance(timedelta(hours=2))
    assert world.tick().escalated == 1 and item_row(world, item)["overdue"]


def test_a_window_is_not_yet_due_then_due_then_overdue(world, clock):
    item = world.fire(world.fire(world.create(workflow="timed", mode="none", unit="1"), "start"), "revisit")
    assert status(world, item) == "not_yet"
    advance(world, timedelta(days=6, hours=23))
    assert status(world, item) == "not_yet"
    advance(world, timedelta(hours=1))
    assert status(world, item) == "due" and world.rows("outbox", item_id=item.id) == []
    advance(world, timedelta(days=23))
    assert status(world, item) == "overdue"
    assert [m["role"] for m in world.rows("outbox", item_id=item.id)] == ["clerk"]
    assert status(world, world.create(workflow="timed", mode="none", unit="2")) == "none"


def test_a_timer_whose_guard_fails_is_skipped_with_an_event(world, clock):
    item = world.fire(world.fire(world.create(workflow="timed", mode="none", unit="1"), "start"), "check")
    clock.advance(timedelta(days=1))
    assert world.tick().skipped == 1
    [skipped] = events(world, item)
    assert skipped["event"] == "timer_skipped" and skipped["changes"] == {"reason": [None, "guard_failed"]}
    assert "自动关闭" in skipped["comment"]
    row = item_row(world, item)
    assert (row["state"], row["version"]) == ("checking", 3)
    assert world.tick().handled == 0
    other = world.fire(world.fire(world.create(workflow="timed", mode="none", unit="2", ok=True), "start"), "check")
    clock.advance(timedelta(days=1))
    assert world.tick().fired == 1
    assert item_row(world, other)["state"] == "closed"


def test_the_ladder_plays_out_in_order_within_one_advance(world, clock):
    item = world.create(workflow="timed", mode="ladder", unit="1")
    advance(world, timedelta(days=2))
    ladder = events(world, item)
    assert [(e["event"], e["at"]) for e in ladder] == [
        ("escalated", at("2026-03-02 10:00")), ("escalated", at("2026-03-02 13:00")),
        ("escalated", at("2026-03-03 09:00"))]
    assert [e["changes"]["escalate_to"][1] for e in ladder] == [
        ["worker"], ["worker", "boss"], ["worker", "boss", "admin"]]
    assert sorted(m["role"] for m in world.rows("outbox", item_id=item.id)) == [
        "admin", "boss", "boss", "worker", "worker", "worker"]
    row = item_row(world, item)
    assert (row["overdue"], row["deadline_at"], row["version"]) == (True, None, 1)
    assert clock.now() == at("2026-03-04 09:00")


def test_re_entering_a_state_restarts_its_limits_and_leaving_late_is_recorded(world, clock):
    item = world.fire(world.create(workflow="timed", mode="none", unit="1"), "start")
    clock.advance(timedelta(hours=7))
    item = world.fire(item, "remark", role="worker")
    assert item.deadline_at == at("2026-03-03 00:00")
    assert [d["status"] for d in deadlines(world, item)] == ["cancelled", "pending"]
    clock.advance(timedelta(hours=9))
    world.tick()
    item = world.fire(item, "check")
    assert not item.overdue
    assert world.rows("item_history", item_id=item.id)[-1]["changes"] == {"_was_overdue": [True, False]}


def test_a_crash_while_handling_a_row_repeats_nothing_and_loses_nothing(world, clock, monkeypatch):
    item = world.create(workflow="timed", mode="ladder", unit="1")
    clock.advance(timedelta(hours=1))
    real = queries.add_outbox

    def broken(db, rows):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(queries, "add_outbox", broken)
    assert world.tick().failed == 1
    assert events(world, item) == [] and deadlines(world, item)[0]["status"] == "pending"
    monkeypatch.setattr(queries, "add_outbox", real)
    assert world.tick().escalated == 1 and world.tick().handled == 0
    assert len(events(world, item)) == 1 and len(world.rows("outbox", item_id=item.id)) == 1


def test_a_busy_item_is_left_for_the_next_pass(world, clock, monkeypatch):
    world.create(workflow="timed", mode="ladder", unit="1")
    clock.advance(timedelta(hours=1))
    monkeypatch.setattr(queries, "lock_item", lambda db, item_id: False)
    assert world.tick().busy == 1
    monkeypatch.undo()
    assert world.tick().escalated == 1


def test_limits_text_in_chinese():
    from engine.language.compiler import parse_duration

    assert timers.limit_text(parse_duration("2d"), True, None) == "2个工作日"
    assert timers.limit_text(parse_duration("30m"), False, None) == "30分钟"
    assert timers.limit_text(None, False, "end_of_day") == "当天"


def test_due_lists_the_coming_limits_per_estate_and_role_without_personal_data(world, clock):
    from click.testing import CliRunner

    from engine.cli.timers import due_cmd, due_soon

    world.create(workflow="timed", mode="ladder", unit="1", phone="13812345678")
    world.create(workflow="timed", mode="same_day", unit="2", role="clerk", estate="other")
    paused = world.fire(world.create(workflow="timed", mode="none", unit="3"), "start")
    world.fire(paused, "hold")
    with world.db.factory() as session:
        groups = due_soon(session, clock.now(), 5)
    assert {key: [(x.number, x.due_at.strftime("%H:%M")) for x in lines] for key, lines in groups.items()} == {
        ("示范小区 [demo]", "主管 (boss)"): [("TM-000001", "13:00")],
        ("示范小区 [demo]", "维修工 (worker)"): [("TM-000001", "10:00")],
    }
    result = CliRunner().invoke(due_cmd, ["--url", world.db.url, "--hours", "24", "--now", "2026-03-02T09:00+0800"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "别的小区 [other]", "  主管 (boss)", "    TM-000001  计时工单  待处理  2026-03-03 00:00",
        "示范小区 [demo]", "  主管 (boss)", "    TM-000001  计时工单  待处理  2026-03-02 13:00",
        "  系统管理员 (admin)", "    TM-000001  计时工单  待处理  2026-03-03 09:00",
        "  维修工 (worker)", "    TM-000001  计时工单  待处理  2026-03-02 10:00",
    ]
    assert "138" not in result.output
    quiet = CliRunner().invoke(due_cmd, ["--url", world.db.url, "--hours", "0.5", "--now", "2026-03-02T09:00+0800"])
    assert quiet.stdout == "nothing falls due within 0.5 h\n"


def test_the_tick_command_fires_what_is_due_once(world):
    from click.testing import CliRunner
    from conftest import WORKFLOWS

    from engine.cli.timers import tick_cmd

    item = world.create(workflow="timed", mode="ladder", unit="1")  # its limits passed long before the real now
    args = ["--url", world.db.url, "--workflows", str(WORKFLOWS)]
    first = CliRunner().invoke(tick_cmd, args)
    assert first.exit_code == 0 and first.stdout.startswith("tick: escalated 3, "), first.output
    again = CliRunner().invoke(tick_cmd, args)
    assert again.exit_code == 0 and again.stdout.startswith("tick: escalated 0, ")
    assert len(events(world, item)) == 3
