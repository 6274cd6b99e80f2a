"""fire() and create(): design.md's runtime rules, each error code with proof nothing was written."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from engine.errors import Conflict, GuardFailed, InvalidFields, ItemNotFound, NotPermitted, UnknownTransition
from engine.runtime.items import create, fire
from engine.runtime.timers import Calendars
from engine.store.db import transaction

WORKFLOWS = Path(__file__).resolve().parents[1] / "data" / "good" / "runtime"


def test_create_starts_in_the_initial_state_with_version_1_and_one_history_row(world):
    item = world.create(phone="138 1234 5678", amount=12.5, comment="业主来电")
    assert (item.state, item.version, item.number) == ("open", 1, "TK-000001")
    assert item.values["amount"] == Decimal("12.5")
    assert item.values["phone"] == "13812345678"
    [row] = world.rows("item_history", item_id=item.id)
    assert (row["kind"], row["from_state"], row["to_state"], row["comment"]) == ("transition", None, "open", "业主来电")
    assert row["changes"]["amount"] == [None, "12.5"]


def test_numbers_count_per_estate_and_prefix(world):
    numbers = [world.create().number, world.create().number, world.create(role="clerk", estate="other").number]
    assert numbers == ["TK-000001", "TK-000002", "TK-000001"]
    assert world.create(role="boss", workflow="job", unit="1-1").number == "JB-000001"


def test_fire_applies_set_bumps_version_and_records_changes(world, clock):
    item = world.create()
    clock.advance(timedelta(minutes=5))
    item = world.fire(item, "start", data={"team": "a"}, comment="请甲班处理", version=1)
    assert (item.state, item.version) == ("working", 2)
    assert item.values["started_at"] == clock.now() and item.values["count"] == 1
    history = world.rows("item_history", item_id=item.id)
    assert [h["transition"] for h in history] == [None, "start"]
    assert history[1]["changes"] == {"count": [None, 1], "team": [None, "a"],
                                     "started_at": [None, clock.now().isoformat()]}
    assert history[1]["comment"] == "请甲班处理" and history[1]["actor_name"] == "boss（demo）"
    stored = world.rows("items")[0]
    assert stored["state_entered_at"] == clock.now() and stored["version"] == 2


def test_a_self_transition_re_enters_its_state(world, clock):
    item = world.fire(world.create(), "start", data={"team": "a"})
    clock.advance(timedelta(hours=1))
    item = world.fire(item, "remark", role="worker", data={"note": "已联系"})
    assert item.values["count"] == 2 and item.version == 3
    # Re-entering restarts the state's clock (and its time limits: see test_timers.py).
    assert world.rows("items")[0]["state_entered_at"] == clock.now() == item.state_entered_at


def test_guarded_branch_wins_over_the_otherwise_in_file_order(world):
    noise = world.fire(world.create(), "start", data={"team": "a"})
    assert world.fire(noise, "finish", role="worker").state == "closed"
    leak = world.fire(world.create(kind="leak"), "start", data={"team": "b"})
    assert world.fire(leak, "finish", role="worker").state == "review"


def test_data_given_with_the_step_counts_for_the_guard(world):
    item = world.fire(world.create(), "start", data={"team": "a"})
    assert world.fire(item, "finish", role="worker", data={"kind": "leak"}).state == "review"


def test_notify_writes_outbox_rows_with_personal_data_masked(world):
    item = world.fire(world.create(phone="13812345678"), "start", data={"team": "a"})
    [row] = world.rows("outbox", item_id=item.id)
    assert row["role"] == "worker" and row["status"] == "pending"
    assert row["body"] == f"工单 {item.number} 派给甲班，房号 3-1-502，电话 138****5678"
    assert "13812345678" not in row["body"] + row["subject"]


def test_spawn_creates_a_linked_item_with_copied_fields_in_the_same_transaction(world):
    item = world.fire(world.create(kind="leak", phone="13812345678"), "start", data={"team": "a"})
    item = world.fire(item, "finish", role="worker")
    jobs = [r for r in world.rows("items") if r["workflow_id"] == "job"]
    assert len(jobs) == 1
    job = jobs[0]
    assert (job["state"], job["version"], job["number"]) == ("todo", 1, "JB-000001")
    assert job["data"] == {"unit": "3-1-502", "phone": "13812345678"}
    links = {(r["from_item_id"], r["to_item_id"], r["kind"]) for r in world.rows("item_links")}
    assert links == {(item.id, job["id"], "spawned"), (job["id"], item.id, "spawned_from")}
    assert len(world.rows("item_history", item_id=job["id"])) == 1
    assert sorted(r["role"] for r in world.rows("outbox", item_id=item.id)) == ["boss", "clerk", "worker"]


def test_a_spawned_item_counts_its_limits_by_the_calendars_given_to_fire(world):
    asked = []

    class Recording(Calendars):
        def for_estate(self, estate_id):
            asked.append(estate_id)
            return super().for_estate(estate_id)

    item = world.fire(world.create(kind="leak"), "start", data={"team": "a"})
    with transaction(world.db.factory) as session:
        fire(session, item.id, "finish", world.actor("worker"), clock=world.clock, calendars=Recording(WORKFLOWS))
    assert [r["workflow_id"] for r in world.rows("items")].count("job") == 1 and "demo" in asked


def test_system_actor_skips_roles_but_not_guards(world):
    item = world.fire(world.create(kind="leak"), "start", data={"team": "a"})
    item = world.fire(item, "finish", role="worker")
    closed = world.fire(item, "auto_close", role="system")
    assert closed.state == "closed"
    assert world.rows("item_history", item_id=item.id)[-1]["actor_id"] is None
    other = world.fire(world.fire(world.create(kind="leak", amount=9000), "start", data={"team": "a"}),
                       "finish", role="worker")
    with pytest.raises(GuardFailed):
        world.fire(other, "approve", role="system")


# --- every refusal writes nothing -------------------------------------------------------


def _refused(world, error, call):
    before = world.snapshot()
    with pytest.raises(error) as caught:
        call()
    assert world.snapshot() == before, "a refused call wrote something"
    return caught.value


def test_item_of_another_estate_is_not_found(world):
    item = world.create()
    error = _refused(world, ItemNotFound, lambda: world.fire(item, "start", role="boss", estate="other",
                                                             data={"team": "a"}))
    assert error.code == "not_found"
    assert _refused(world, ItemNotFound, lambda: world.fire(9999, "start")).data["item_id"] == 9999


def test_stale_version_is_a_conflict(world):
    item = world.fire(world.create(), "start", data={"team": "a"})
    error = _refused(world, Conflict, lambda: world.fire(item, "remark", data={"note": "x"}, version=1))
    assert (error.code, error.expected, error.actual) == ("conflict", 1, 2)


def test_transition_not_leaving_the_state_is_unknown(world):
    item = world.create()
    for name in ("finish", "no_such_thing"):
        error = _refused(world, UnknownTransition, lambda n=name: world.fire(item, n))
        assert error.code == "unknown_transition" and error.data["state"] == "open"


def test_wrong_role_is_not_permitted(world):
    item = world.create()
    error = _refused(world, NotPermitted, lambda: world.fire(item, "start", role="clerk", data={"team": "a"}))
    assert error.code == "not_permitted" and error.data["roles"] == ["boss"]


def test_a_transition_without_roles_is_for_the_system_only(world):
    item = world.fire(world.fire(world.create(kind="leak"), "start", data={"team": "a"}), "finish", role="worker")
    _refused(world, NotPermitted, lambda: world.fire(item, "auto_close", role="boss"))


@pytest.mark.parametrize(("data", "bad"), [
    ({"colour": "red"}, {"colour": "没有这个字段"}),
    ({"count": "many"}, {"count": "不是有效的整数"}),
    ({"team": "c"}, {"team": "请选择列表中的选项"}),
    ({"phone": "12345"}, {"phone": "手机号码格式不正确"}),
    ({"unit": ""}, {"unit": "不能为空"}),
    ({"amount": "abc", "due_on": "03/02"}, {"amount": "不是有效的数字", "due_on": "不是有效的日期（如 2026-03-02）"}),
])
def test_undeclared_or_ill_typed_fields_are_invalid(world, data, bad):
    item = world.create()
    error = _refused(world, InvalidFields, lambda: world.fire(item, "start", data={"team": "a", **data}))
    assert error.code == "invalid_fields" and error.fields == bad


def test_missing_required_fields_are_named(world):
    item = world.create()
    error = _refused(world, InvalidFields, lambda: world.fire(item, "start"))
    assert error.fields == {"team": "必填"}


def test_false_and_zero_count_as_filled(world):
    item = world.fire(world.create(), "start", data={"team": "a"})
    assert world.fire(item, "remark", role="worker", data={"note": "0"}).values["note"] == "0"


def test_guard_false_leaves_item_unchanged(world):
    item = world.fire(world.fire(world.create(kind="leak", amount="5000.01"), "start", data={"team": "a"}),
                      "finish", role="worker")
    error = _refused(world, GuardFailed, lambda: world.fire(item, "approve"))
    assert error.code == "guard_failed"
    assert world.fire(item, "approve", data={"amount": 5000}).state == "closed"


def test_a_spawn_that_cannot_be_made_writes_nothing(world):
    """The estate's newest `job` requires a field the ticket does not copy."""

    from engine.language.loader import compile_document, read_source
    from engine.runtime.registry import REGISTRY

    document = read_source(WORKFLOWS / "job.yaml").document
    document["fields"]["contact"] = {"type": "string", "label": "联系人", "required": True}
    roles = {"clerk": "前台", "boss": "主管", "worker": "维修工", "admin": "系统管理员"}
    with transaction(world.db.factory) as session:
        REGISTRY.publish(session, compile_document(document, roles=roles), roles=roles, estate="demo")
    item = world.fire(world.create(kind="leak"), "start", data={"team": "a"})
    error = _refused(world, InvalidFields, lambda: world.fire(item, "finish", role="worker"))
    assert error.fields == {"job.contact": "派生工单缺少必填字段"}


def test_a_conflict_found_by_the_versioned_update_writes_nothing(world, monkeypatch):
    """Someone commits between our read and our update: the UPDATE matches no row."""
    from engine.store import queries

    item = world.fire(world.create(), "start", data={"team": "a"})
    real = queries.item_row

    def stale_read(connection, item_id):
        row = real(connection, item_id)
        monkeypatch.setattr(queries, "item_row", real)
        bump = f"UPDATE items SET version = version + 1 WHERE id = {int(item.id)}"
        if world.db.backend == "sqlite":
            # BEGIN IMMEDIATE keeps other writers out; bump inside our own transaction.
            connection.exec_driver_sql(bump)
        else:
            with world.db.engine.begin() as other:
                other.exec_driver_sql(bump)
        return row

    monkeypatch.setattr(queries, "item_row", stale_read)
    history = world.rows("item_history")
    with pytest.raises(Conflict) as caught, transaction(world.db.factory) as session:
        fire(session, item.id, "remark", world.actor("worker"), {"note": "x"}, clock=world.clock)
    assert (caught.value.expected, caught.value.actual) == (2, 3)
    assert world.rows("item_history") == history


@pytest.mark.parametrize(("role", "estate", "data", "error"), [
    ("worker", "demo", {"kind": "noise", "unit": "1"}, NotPermitted),  # not in create_roles
    ("clerk", "other", {"kind": "noise", "unit": "1"}, NotPermitted),  # not working in that estate
    ("clerk", "demo", {"kind": "noise"}, InvalidFields),  # a required field missing
    ("clerk", "demo", {"kind": "fire", "unit": "1"}, InvalidFields),  # not an option
])
def test_create_checks_estate_roles_and_required_fields(world, role, estate, data, error):
    from engine.runtime.items import create

    before = world.snapshot()
    with pytest.raises(error), transaction(world.db.factory) as session:
        create(session, workflow="ticket", estate=estate, actor=world.actor(role, "demo"), data=data)
    assert world.snapshot() == before


def test_create_of_an_unpublished_workflow_is_not_found(world):
    _refused(world, ItemNotFound, lambda: world.create(workflow="nothing"))


def test_create_reports_ill_typed_and_missing_fields_together(world):
    """A clerk sees every mistake of the form at once, not one kind per attempt."""
    with pytest.raises(InvalidFields) as caught, transaction(world.db.factory) as session:
        create(session, workflow="ticket", estate="demo", actor=world.actor("clerk", "demo"),
               data={"kind": "noise", "amount": "很多"}, clock=world.clock, calendars=world.calendars)
    assert set(caught.value.fields) == {"amount", "unit"}
    assert caught.value.fields["unit"] == "必填"
