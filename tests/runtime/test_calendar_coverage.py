"""Working time past the calendar's holiday list: counted as weekdays, and marked in the history.

The runtime tests' calendar (tests/data/good/runtime/calendar.yaml) lists dates of 2026 only,
so it covers up to 2026-12-31; 2027-01-01 (a Friday) counts as a plain working day.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from engine.runtime.registry import publish_folder
from engine.runtime.timers import UNCOVERED
from engine.store.db import transaction
from engine.views.timeline import timeline

# Not imported from conftest: with tests/web collected in the same run, `conftest` may be web's.
WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "good" / "runtime"

SLOW = """\
id: slow
title: 慢工单
number_prefix: SL
create_roles: [clerk]
fields:
  unit: {type: string, label: 房号, required: true}
states:
  new: {label: 新建, initial: true}
  doing:
    label: 处理中
    sla: [{within: 3d, calendar: working, escalate_to: [boss]}]
  held: {label: 挂起, paused: true}
  done: {label: 完成, final: true}
transitions:
  - {name: take, label: 受理, from: new, to: doing, roles: [boss]}
  - {name: hold, label: 挂起, from: doing, to: held, roles: [boss]}
  - {name: resume, label: 恢复, from: held, to: doing, roles: [boss]}
  - {name: close, label: 完成, from: doing, to: done, roles: [boss]}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace(" ", "T") + "+08:00")


@pytest.fixture
def slow(world, tmp_path):
    """The `slow` workflow published beside the runtime test workflows."""
    folder = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    (folder / "slow.yaml").write_text(SLOW, encoding="utf-8")
    with transaction(world.db.factory) as session:
        publish_folder(session, folder, now=world.clock.now())
    return world


def transitions(world, item):
    return [r for r in world.rows("item_history", item_id=item.id) if r["kind"] == "transition"]


def test_a_limit_inside_the_list_carries_no_marker(slow, clock):
    clock.set(at("2026-12-28 10:00"))  # Monday: three working days end on Thursday 31 December
    item = slow.fire(slow.create(workflow="slow", unit="1-101"), "take")
    assert item.deadline_at == at("2026-12-31 10:00")
    assert all(UNCOVERED not in row["changes"] for row in transitions(slow, item))


def test_a_limit_past_the_list_counts_weekdays_and_its_transition_says_so(slow, clock):
    clock.set(at("2026-12-30 10:00"))  # Wednesday: Thursday, Friday 1 January (a weekday now), Monday
    item = slow.fire(slow.create(workflow="slow", unit="1-101"), "take")
    assert item.deadline_at == at("2027-01-04 10:00")
    created, taken = transitions(slow, item)
    assert UNCOVERED not in created["changes"]  # `new` has no limit
    assert taken["changes"][UNCOVERED] == [None, "2026-12-31"]


def test_the_marker_is_on_the_creation_row_when_the_initial_state_plans_it(world, clock):
    clock.set(at("2026-12-31 10:00"))  # Thursday: two working days are Friday and Monday
    item = world.create(workflow="timed", mode="working", unit="1-101")
    assert item.deadline_at == at("2027-01-04 10:00")
    [created] = transitions(world, item)
    assert created["changes"][UNCOVERED] == [None, "2026-12-31"]


def test_calendar_time_limits_need_no_holiday_list(world, clock):
    clock.set(at("2026-12-31 10:00"))
    item = world.create(workflow="timed", mode="ladder", unit="1-101")  # 1h, 4h, 1d of elapsed time
    [created] = transitions(world, item)
    assert UNCOVERED not in created["changes"]


def test_a_deadline_moved_past_the_list_by_a_pause_is_marked_on_the_resume(slow, clock):
    clock.set(at("2026-12-28 09:00"))
    item = slow.fire(slow.create(workflow="slow", unit="1-101"), "take")  # due Thursday 31st 09:00
    item = slow.fire(item, "hold")
    clock.set(at("2026-12-30 09:00"))  # two working days paused: the limit moves into January
    item = slow.fire(item, "resume")
    assert item.deadline_at == at("2027-01-04 09:00")
    assert transitions(slow, item)[-1]["changes"][UNCOVERED] == [None, "2026-12-31"]


def test_the_timeline_says_it_in_chinese(slow, clock):
    clock.set(at("2026-12-30 10:00"))
    item = slow.fire(slow.create(workflow="slow", unit="1-101"), "take")
    with slow.db.factory() as session:
        entries = timeline(session, item)
    assert ("期限按工作日推算（节假日表未覆盖）", "", "节假日表只列到2026年12月31日") in entries[-1].changes
