"""The language of the organisation: executor roles, `unit` and `user` fields, `me`/`my_roles`,
`access:`, `notify: {user: ...}` (docs/workflow-language.md). The routing tables are in test_routing.py;
the broken files with their messages in tests/data/bad/org_*.yaml and expr_acting_user.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from engine.errors import DefinitionError, ExpressionError
from engine.language import fields
from engine.language.definition import (
    DEFAULT_PERSONAL,
    ME,
    MY_ROLES,
    FieldDef,
    NotifyAction,
    ResidentNotifyAction,
)
from engine.language.expr import compile_expression
from engine.language.loader import Loader, compile_document, load_departments, load_roles
from engine.language.shipped import SHIPPED_WORKFLOWS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
UNIT = FieldDef("unit", "unit", "房号")
ROLES = {"frontdesk": "前台客服", "cs_supervisor": "客服主管",
         "engineer": {"label": "工程部维修员", "department": "engineering"}}


@pytest.fixture(scope="module")
def shipped() -> dict:
    loader = Loader(WORKFLOWS)
    # The product's workflows only: a site's own file in workflows/ is not the product's to test.
    return {workflow: loader.load(WORKFLOWS / f"{workflow}.yaml") for workflow in SHIPPED_WORKFLOWS
            if (WORKFLOWS / f"{workflow}.yaml").is_file()}


def _document(**extra) -> dict:
    document = {
        "id": "demo", "title": "演示",
        "fields": {"handler": {"type": "user", "label": "责任人", "roles": ["engineer"]},
                   "kind": {"type": "enum", "label": "类别", "options": {"engineering": "工程", "other": "其他"}}},
        "states": {"open": {"label": "待处理", "initial": True}, "done": {"label": "已完成", "final": True}},
        "transitions": [{"name": "finish", "from": "open", "to": "done", "roles": ["engineer", "cs_supervisor"],
                         "when": "handler == me or 'cs_supervisor' in my_roles",
                         "actions": [{"notify": {"user": "handler", "template": "{number} 已完成"}}]}],
    }
    document.update(extra)
    return document


# --- the role catalogue -----------------------------------------------------------------------

def test_roles_yaml_names_executors_with_their_department_and_keeps_labels_for_callers():
    assert load_roles(WORKFLOWS)["engineer"] == "工程部维修员"
    assert load_roles(WORKFLOWS)["engineering_lead"] == "工程主管"
    assert load_roles(WORKFLOWS)["frontdesk"] == "前台客服"
    assert dict(load_departments(WORKFLOWS)) == {
        "engineer": "engineering", "engineering_lead": "engineering", "security": "security", "cleaning": "cleaning"}


def test_the_departments_are_the_values_the_department_fields_use(shipped):
    for workflow in ("complaint", "intake"):
        options = shipped[workflow].fields["department"].options
        assert set(load_departments(WORKFLOWS).values()) <= set(options), workflow


@pytest.mark.parametrize(("entry", "message"), [
    ({"label": "工程部", "departmnt": "engineering"}, "unknown key 'departmnt'"),
    ({"department": "engineering"}, "the label must be a text"),
    ({"label": "工程部", "department": "Engineering Dept"}, "the department is an id"),
])
def test_a_malformed_role_entry_is_reported(tmp_path, entry, message):
    (tmp_path / "roles.yaml").write_text(yaml.safe_dump({"frontdesk": "前台客服", "engineer": entry},
                                                        allow_unicode=True), encoding="utf-8")
    with pytest.raises(DefinitionError) as error:
        load_roles(tmp_path)
    assert message in str(error.value)


def test_compile_document_takes_the_catalogue_in_either_shape():
    plain = compile_document(_document(), roles={k: v if isinstance(v, str) else v["label"] for k, v in ROLES.items()})
    full = compile_document(_document(), roles=ROLES)
    assert dict(plain.departments) == {}
    assert dict(full.departments) == {"engineer": "engineering"}
    assert full.create_roles == ("frontdesk", "cs_supervisor", "engineer")


# --- unit fields ------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "stored"), [
    ("3-1-502", "3-1-502"),
    ("  ３－１－５０２ ", "3-1-502"),
    ("3 - 1 — 502", "3-1-502"),
    ("a座1201", "A座1201"),
    ("3栋1单元502", "3栋1单元502"),
    ("L2-056", "L2-056"),
    (502, "502"),
])
def test_a_unit_number_is_normalised(typed, stored):
    assert fields.parse(UNIT, typed) == stored


@pytest.mark.parametrize("typed", ["<3-1-502>", "3-1-502;drop", "-3-1", "3\x00", "1" * 33, True, 3.5])
def test_junk_is_not_a_unit_number(typed):
    with pytest.raises(ValueError):
        fields.parse(UNIT, typed)


def test_an_empty_unit_is_unset_and_a_unit_compares_as_a_string():
    assert fields.parse(UNIT, "  ") is None
    expression = compile_expression("unit == '3-1-502'", {"unit": UNIT}, want="boolean")
    assert expression.evaluate({"unit": "3-1-502"}, NOW) is True


def test_the_shipped_workflows_use_unit_for_the_room_number(shipped):
    for workflow in ("complaint", "repair", "renovation", "move_in", "dunning", "intake"):
        assert shipped[workflow].fields["unit"].type == "unit", workflow


# --- user fields and notify: {user: ...} -------------------------------------------------------

def test_a_user_field_carries_its_roles_and_route(shipped):
    engineer = shipped["repair"].fields["engineer"]
    assert (engineer.roles, engineer.route) == (("engineer", "engineering_lead"), "repair_trade")
    assert shipped["repair"].fields["description"].roles == ()


def test_a_notification_names_the_user_field_and_roles_may_be_empty():
    definition = compile_document(_document(), roles=ROLES)
    (notify,) = definition.transitions[0].actions
    assert (notify.roles, notify.user_field) == ((), "handler")


def test_dispatches_tell_the_person_not_the_whole_role(shipped):
    repair = shipped["repair"]
    (dispatch,) = [t for t in repair.transitions if t.name == "dispatch"]
    # The resident is texted too now (domain-review.md E20); that is a separate kind of action.
    staff = [a for a in dispatch.actions if isinstance(a, NotifyAction)]
    assert [(a.roles, a.user_field) for a in staff] == [((), "engineer")]
    residents = [a for a in dispatch.actions if isinstance(a, ResidentNotifyAction)]
    assert [(a.field, a.template_id) for a in residents] == [("phone", "dispatched")]


# --- me and my_roles --------------------------------------------------------------------------

def test_me_and_my_roles_are_read_from_the_values_the_caller_adds():
    when = compile_document(_document(), roles=ROLES).transitions[0].when
    assert when is not None and {ME, MY_ROLES} <= when.names
    assert when.evaluate({"handler": "wang", ME: "wang", MY_ROLES: ["engineer"]}, NOW) is True
    assert when.evaluate({"handler": "wang", ME: "li", MY_ROLES: ["engineer"]}, NOW) is False
    assert when.evaluate({"handler": "wang", ME: "zhao", MY_ROLES: frozenset({"cs_supervisor"})}, NOW) is True
    assert when.evaluate({"handler": "wang"}, NOW) is False  # the system: me is null, no roles


def test_my_roles_must_be_a_list_a_text_is_no_substring_match():
    when = compile_document(_document(), roles=ROLES).transitions[0].when
    assert when.evaluate({"handler": "wang", ME: "li", MY_ROLES: "cs_supervisor_and_more"}, NOW) is False


def test_a_transition_knows_whether_its_guard_reads_me(shipped):
    repair = shipped["repair"]
    accept = next(t for t in repair.transitions if t.name == "accept")
    dispatch = next(t for t in repair.transitions if t.name == "dispatch")
    assert accept.reads_me and not dispatch.reads_me


@pytest.mark.parametrize(("source", "message"), [
    ("handler == me", "known only in a transition's when"),
])
def test_me_is_unknown_where_there_is_no_acting_user(source, message):
    with pytest.raises(ExpressionError, match=message):
        compile_expression(source, {"handler": FieldDef("handler", "user", "责任人")}, want="boolean")


def test_a_role_looked_for_in_my_roles_must_exist():
    with pytest.raises(ExpressionError, match="unknown role 'cs_supervisr' \\(did you mean 'cs_supervisor'\\?\\)"):
        compile_expression("'cs_supervisr' in my_roles", {}, want="boolean", roles={"cs_supervisor": "客服主管"})


# --- access -----------------------------------------------------------------------------------

def test_without_access_every_role_named_the_personal_ones_and_admin_see():
    definition = compile_document(_document(create_roles=["frontdesk"]), roles=ROLES)
    access = definition.access
    assert access.see == {"frontdesk", "engineer", "cs_supervisor", "admin", *DEFAULT_PERSONAL}
    assert access.personal == set(DEFAULT_PERSONAL)
    assert (access.department_field, access.department) == (None, None)


def test_access_department_is_a_field_or_a_fixed_department():
    by_field = compile_document(_document(access={"department": "kind"}), roles=ROLES).access
    fixed = compile_document(_document(access={"department": "engineering"}), roles=ROLES).access
    assert (by_field.department_field, by_field.department) == ("kind", None)
    assert (fixed.department_field, fixed.department) == (None, "engineering")


def test_finance_sees_dunning_and_what_it_acts_on_but_never_complaints(shipped):
    assert "finance" not in shipped["complaint"].access.see
    assert "finance" not in shipped["intake"].access.see
    for workflow in ("dunning", "repair", "renovation", "move_in"):
        assert "finance" in shipped[workflow].access.see, workflow
    assert "finance" in shipped["dunning"].access.personal
    assert "finance" not in shipped["move_in"].access.personal  # 身份证号 stays with customer service


def test_executors_are_limited_by_each_workflows_department(shipped):
    assert shipped["complaint"].access.department_field == "department"
    assert shipped["intake"].access.department_field == "department"
    assert shipped["repair"].access.department == "engineering"
    for workflow in shipped.values():
        assert "admin" in workflow.access.see
        assert set(workflow.access.see) >= set(workflow.create_roles)
        assert all(set(t.roles) <= workflow.access.see for t in workflow.transitions), workflow.id


def test_the_estate_overlay_restates_access_with_the_fire_reviewers():
    plaza = Loader(WORKFLOWS).load(WORKFLOWS / "renovation.yaml", estate="plaza")
    assert "security" in plaza.access.see
    assert plaza.fields["fire_reviewer"].roles == ("security",)
