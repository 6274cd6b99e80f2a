"""Named people and units: checked on the server, kept in step with the item; guards on the person in charge."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from engine.errors import GuardFailed, InvalidFields
from engine.store.db import transaction
from engine.store.models import User
from tests.runtime._access_org import Org


@pytest.fixture
def org(db: Any, clock: Any) -> Org:
    return Org(db, clock)


def _assignees(org: Org, item_id: int) -> dict[str, int]:
    return {r["field"]: r["user_id"] for r in org.rows("item_assignees", item_id=item_id)}


def _item(org: Org, item_id: int) -> dict[str, Any]:
    return org.rows("items", id=item_id)[0]


def _refused(org: Org, call: Any) -> InvalidFields:
    before = {t: org.rows(t) for t in ("items", "item_history", "item_assignees", "outbox")}
    with pytest.raises(InvalidFields) as refused:
        call()
    assert {t: org.rows(t) for t in before} == before  # a refusal writes nothing
    return refused.value


# --- units ------------------------------------------------------------------------------------

def test_a_unit_field_names_a_unit_of_the_items_estate(org):
    complaint = org.create("complaint", unit="5-2-301")
    assert _item(org, complaint.id)["unit_id"] == next(u["id"] for u in org.rows("units", number="5-2-301"))
    for number in ("9-9-999", "1-1-101"):  # no such unit; a unit of another estate
        error = _refused(org, lambda n=number: org.create("complaint", unit=n))
        assert error.fields == {"unit": f"本小区没有房号 {number}"}


def test_moving_an_item_to_another_unit_follows_on_the_item(org):
    repair = org.create("repair", by="frontdesk")
    assert _item(org, repair.id)["unit_id"] is None
    org.fire(repair, "dispatch", "frontdesk", {"area": "in_unit", "trade": "plumbing", "paid": "false",
                                               "engineer": "engineer", "unit": "5-2-301"})
    assert _item(org, repair.id)["unit_id"] == next(u["id"] for u in org.rows("units", number="5-2-301"))


# --- people -----------------------------------------------------------------------------------

def test_a_person_named_at_creation_is_an_assignee_and_the_department_is_set(org):
    complaint = org.create("complaint", department="engineering", handler="engineer")
    assert _assignees(org, complaint.id) == {"handler": org.ids["engineer"]}
    assert _item(org, complaint.id)["department"] == "engineering"
    assert complaint.assignees == {"handler": org.ids["engineer"]}
    repair = org.create("repair")
    assert _item(org, repair.id)["department"] == "engineering"  # the workflow's fixed department


def test_the_assignee_follows_each_change_of_the_user_field(org):
    repair = org.create("repair", by="frontdesk", unit="3-1-502")
    assert _assignees(org, repair.id) == {}
    org.fire(repair, "dispatch", "frontdesk", {"area": "in_unit", "trade": "plumbing", "paid": "false",
                                               "engineer": "engineer"})
    assert _assignees(org, repair.id) == {"engineer": org.ids["engineer"]}
    moved = org.fire(repair, "reassign", "engineering_lead", {"engineer": "engineer2", "reassign_reason": "请假"})
    assert _assignees(org, repair.id) == {"engineer": org.ids["engineer2"]}
    assert moved.assignees == {"engineer": org.ids["engineer2"]}


@pytest.mark.parametrize(("username", "message"), [
    ("cleaning", "所选人员在本小区不是工程部维修员、工程主管"),  # holds no role the field allows
    ("riverside_engineer", "所选人员不在本小区工作或已停用"),  # an engineer of another estate
    ("nobody", "所选人员不在本小区工作或已停用"),
])
def test_a_user_field_names_active_staff_of_the_estate_with_the_fields_roles(org, username, message):
    error = _refused(org, lambda: org.create("repair", engineer=username))
    assert error.fields == {"engineer": message}


def test_a_disabled_user_cannot_be_named_but_does_not_block_other_steps(org):
    repair = org.create("repair", by="frontdesk", unit="3-1-502")
    org.fire(repair, "dispatch", "frontdesk", {"area": "in_unit", "trade": "plumbing", "paid": "false",
                                               "engineer": "engineer2"})
    with transaction(org.db.factory) as session:
        session.execute(update(User).where(User.id == org.ids["engineer2"]).values(active=False))
    error = _refused(org, lambda: org.create("repair", engineer="engineer2"))
    assert error.fields == {"engineer": "所选人员不在本小区工作或已停用"}
    # The stored name is not checked again by a step that does not change it.
    assert org.fire(repair, "accept", "engineering_lead").state == "accepted"


def test_a_spawned_item_gets_its_unit_and_department(org):
    intake = org.create("intake", by="frontdesk", kind="service", department="engineering", unit="5-2-301")
    org.fire(intake, "to_repair", "frontdesk")
    child = org.rows("item_links", from_item_id=intake.id)[0]["to_item_id"]
    row = _item(org, child)
    assert row["workflow_id"] == "repair" and row["department"] == "engineering"
    assert row["unit_id"] == next(u["id"] for u in org.rows("units", number="5-2-301"))


# --- guards on the person in charge (domain-review.md E2) ------------------------------------------

def _dispatched_repair(org: Org, engineer: str = "engineer") -> Any:
    repair = org.create("repair", by="frontdesk", unit="3-1-502")
    return org.fire(repair, "dispatch", "frontdesk", {"area": "in_unit", "trade": "plumbing", "paid": "false",
                                                      "engineer": engineer})


def test_only_the_technician_assigned_or_the_lead_accepts(org):
    repair = _dispatched_repair(org)
    with pytest.raises(GuardFailed) as refused:
        org.fire(repair, "accept", "engineer2")
    name = org.name("engineer")
    assert refused.value.message == f"不能接单：不是本事项的责任人（责任人：{name}）"
    assert "engineer ==" not in refused.value.message and "me" not in refused.value.message
    assert org.fire(repair, "accept", "engineer").state == "accepted"


def test_the_lead_may_act_for_the_technician(org):
    repair = _dispatched_repair(org)
    assert org.fire(repair, "accept", "engineering_lead").state == "accepted"


def test_available_explains_not_being_in_charge_by_name(org):
    from engine.runtime.items import available

    repair = _dispatched_repair(org)
    for who, allowed in (("engineer", True), ("engineer2", False), ("engineering_lead", True)):
        actor = org.actor(who)
        with org.db.factory() as session:
            accept = {a.name: a for a in available(session, repair.id, actor, clock=org.clock)}["accept"]
        assert accept.allowed is allowed, who
        if not allowed:
            assert [r.message for r in accept.reasons] == [f"不是本事项的责任人（责任人：{org.name('engineer')}）"]


def test_a_cleaner_cannot_report_on_a_complaint_assigned_to_another(org):
    complaint = org.create("complaint", by="frontdesk", severity="minor")
    org.fire(complaint, "dispatch", "cs_supervisor", {"department": "cleaning", "handler": "cleaning"})
    with pytest.raises(GuardFailed, match="不是本事项的责任人"):
        org.fire(complaint, "feed_back", "cleaner2", {"feedback": "已清理"})
    # domain-review.md E1: the department gives its feedback; customer service then replies.
    assert org.fire(complaint, "feed_back", "cleaning", {"feedback": "已清理"}).state == "replying"


def test_me_is_never_stored(org):
    repair = _dispatched_repair(org)
    done = org.fire(repair, "accept", "engineer")
    assert "me" not in done.values and "my_roles" not in done.values
    stored = _item(org, repair.id)["data"]
    assert "me" not in stored and "my_roles" not in stored


def test_estateflow_check_reports_an_assignee_record_that_does_not_match_the_user_field(org):
    from click.testing import CliRunner
    from sqlalchemy import text

    from engine.cli.main import main

    complaint = org.create("complaint", department="engineering", handler="engineer")
    org.create("repair")
    clean = CliRunner().invoke(main, ["check", "--url", org.db.url])
    assert clean.exit_code == 0, clean.output
    with org.db.engine.begin() as connection:
        connection.execute(text("UPDATE item_assignees SET user_id = :other WHERE item_id = :id"),
                           {"other": org.ids["engineer2"], "id": complaint.id})
    result = CliRunner().invoke(main, ["check", "--url", org.db.url])
    assert result.exit_code == 1
    assert result.stdout == (f"{complaint.number} (estate demo, item id {complaint.id}): its user field 'handler' "
                             "and its recorded assignee (item_assignees) do not agree\n")
