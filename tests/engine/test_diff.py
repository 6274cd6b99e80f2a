"""What changed between two versions of a workflow (engine/language/diff.py): the text diff with line
numbers, and the summary by subject, in Chinese, even for half-written drafts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from engine.language.diff import Change, DiffLine, compare, grouped, text_diff, yaml_text

COMPLAINT = Path(__file__).resolve().parents[2] / "workflows" / "complaint.yaml"
TICKET: dict[str, Any] = {
    "id": "ticket", "title": "报事工单", "number_prefix": "BS", "create_roles": ["frontdesk"],
    "fields": {
        "kind": {"type": "enum", "label": "类别", "required": True, "options": {"noise": "噪音", "leak": "漏水"}},
        "unit": {"type": "string", "label": "房号", "required": True},
        "note": {"type": "text", "label": "回访记录"},
    },
    "parameters": {"revisit_limit": {"label": "回访时限", "type": "duration", "value": "3d"}},
    "states": {
        "open": {"label": "已登记", "initial": True, "sla": [{"within": "1h", "escalate_to": ["cs_supervisor"]}]},
        "working": {"label": "处理中", "sla": [{"within": "48h", "escalate_to": ["cs_manager"]}]},
        "checking": {"label": "待回访", "sla": [{"within": "revisit_limit", "escalate_to": ["cs_supervisor"]}]},
        "closed": {"label": "已关闭", "final": True},
    },
    "transitions": [
        {"name": "dispatch", "label": "派单", "from": "open", "to": "working", "roles": ["cs_supervisor"]},
        {"name": "finish", "label": "完工", "from": "working", "to": "checking", "roles": ["engineer"]},
        {"name": "revisit", "label": "回访", "from": "checking", "to": "closed", "roles": ["frontdesk"],
         "require": ["note"]},
    ],
}
ROLES = {"cs_supervisor": "客服主管", "cs_manager": "客服部经理", "engineer": "工程部", "frontdesk": "前台客服"}


def edited(**changes: Any) -> dict[str, Any]:
    new = copy.deepcopy(TICKET)
    new.update(changes)
    return new


def details(old: Any, new: Any) -> list[str]:
    return [c.detail for c in compare(old, new, role_labels=ROLES)]


# -- the summary -------------------------------------------------------------------------------------------------

def test_the_same_document_has_no_changes() -> None:
    assert compare(TICKET, copy.deepcopy(TICKET)) == ()


def test_states_added_removed_renamed_and_flagged() -> None:
    new = copy.deepcopy(TICKET)
    new["states"]["revisit2"] = {"label": "二次回访"}
    del new["states"]["checking"]
    new["states"]["working"]["label"] = "办理中"
    new["states"]["open"]["paused"] = True
    changes = [c for c in compare(TICKET, new) if c.subject == "state"]
    assert Change("state", "revisit2", "added", "状态「二次回访」新增") in changes
    assert Change("state", "checking", "removed", "状态「待回访」删除") in changes
    assert Change("state", "working", "changed", "状态「处理中」改名为「办理中」") in changes
    assert Change("state", "open", "changed", "状态「已登记」改为暂停计时") in changes


def test_transitions_by_name_and_from_with_labels_for_states_and_roles() -> None:
    new = copy.deepcopy(TICKET)
    new["transitions"][0]["roles"] = ["cs_supervisor", "cs_manager"]
    new["transitions"][1]["to"] = "closed"
    new["transitions"][2]["require"] = ["note", "kind"]
    new["transitions"].append({"name": "cancel", "label": "撤销", "from": "*", "to": "closed", "roles": ["cs_manager"]})
    said = details(TICKET, new)
    assert "操作「派单」（已登记 → 处理中）的可操作的角色：新增 客服部经理" in said
    assert "操作「完工」（处理中 → 已关闭）的目标状态：待回访 → 已关闭" in said
    assert "操作「回访」（待回访 → 已关闭）的必填字段：新增 类别" in said
    assert "操作「撤销」（任意状态 → 已关闭）新增" in said


def test_a_transition_that_only_gains_a_source_state_is_changed_not_replaced() -> None:
    new = copy.deepcopy(TICKET)
    new["transitions"][0]["from"] = ["open", "checking"]
    [change] = compare(TICKET, new)
    assert (change.subject, change.name, change.what) == ("transition", "dispatch", "changed")
    assert change.detail.endswith("的起始状态：新增 待回访")


def test_a_removed_transition_among_two_of_one_name_and_state() -> None:
    old = copy.deepcopy(TICKET)
    old["transitions"].append({"name": "revisit", "label": "回访不满意", "from": "checking", "to": "working",
                               "when": "kind == 'leak'"})
    [change] = compare(old, TICKET)
    assert change == Change("transition", "revisit", "removed", "操作「回访不满意」（待回访 → 处理中）删除")


def test_fields_added_removed_and_their_options() -> None:
    new = copy.deepcopy(TICKET)
    new["fields"]["urgency"] = {"type": "enum", "label": "紧急程度", "options": {"high": "紧急"}}
    del new["fields"]["note"]
    new["fields"]["kind"]["options"] = {"noise": "噪音扰民", "other": "其他"}
    new["fields"]["unit"]["required"] = False
    changes = [c for c in compare(TICKET, new) if c.subject == "field"]
    assert Change("field", "urgency", "added", "字段「紧急程度」新增（选项）") in changes
    assert Change("field", "note", "removed", "字段「回访记录」删除") in changes
    assert Change("field", "kind", "changed", "字段「类别」的选项改变：新增 其他；去掉 漏水；「噪音」改为「噪音扰民」") in changes
    assert Change("field", "unit", "changed", "字段「房号」不再是登记时必填") in changes


def test_limits_changed_added_and_removed_per_state_and_by_parameter() -> None:
    new = copy.deepcopy(TICKET)
    new["states"]["working"]["sla"][0]["within"] = "24h"
    new["states"]["open"]["sla"].append({"when": "kind == 'leak'", "within": "30m", "escalate_to": ["cs_manager"]})
    del new["states"]["checking"]["sla"]
    new["parameters"]["revisit_limit"]["value"] = "2d"
    limits = [c.detail for c in compare(TICKET, new) if c.subject == "limit"]
    assert "时限「处理中」48h → 24h" in limits
    assert "时限「已登记」新增 30m（kind == 'leak' 时）" in limits
    assert "时限「待回访」去掉 回访时限（3d）" in limits
    assert "时限参数「回访时限」3d → 2d" in limits


def test_a_limit_whose_escalation_changes_names_what_changed() -> None:
    new = copy.deepcopy(TICKET)
    new["states"]["open"]["sla"][0]["escalate_to"] = ["cs_manager"]
    assert details(TICKET, new) == ["时限「已登记」1h的升级通知对象改变"]


def test_other_settings() -> None:
    said = details(TICKET, edited(title="报修工单", number_prefix="BX", create_roles=["frontdesk", "engineer"]))
    assert said == ["流程名称：报事工单 → 报修工单", "编号前缀：BS → BX", "可登记的角色：新增 工程部"]


def test_the_summary_is_grouped_by_subject_in_order() -> None:
    new = edited(title="报修工单")
    new["states"] = {**new["states"], "extra": {"label": "补充"}}
    new["fields"] = {**new["fields"], "x": {"type": "string", "label": "备注"}}
    headings = [heading for heading, _changes in grouped(compare(TICKET, new))]
    assert headings == ["状态", "字段", "其他设置"]


def test_the_shipped_complaint_against_itself_with_one_limit_changed() -> None:
    old = yaml.safe_load(COMPLAINT.read_text(encoding="utf-8"))
    new = copy.deepcopy(old)
    new["states"]["handling"]["sla"][0]["within"] = "2d"
    assert details(old, new) == ["时限「处理中」3d → 2d"]


# -- half-written documents never break it -------------------------------------------------------------------------

GARBAGE: list[Any] = [
    None, 1, "text", [], {}, {"states": 3}, {"states": {"a": None, "b": [1]}}, {"transitions": {"a": 1}},
    {"transitions": [None, 1, {"from": [[1], {"x": 1}], "name": {}, "to": [2]}]},
    {"fields": [1]}, {"fields": {"f": {"options": [1, {"a": 2}]}, "g": "string"}},
    {"states": {"s": {"sla": {"within": 1}, "timers": 3, "label": 5}}, "item_sla": "2d"},
    {"parameters": {"p": 1, "q": {"type": "duration"}}, "create_roles": "admin", "access": [1]},
    yaml.safe_load("fields: {f: {type: enum, options: {1: 一, b: 二, 2026-01-01: 三}}}\ntitle: {null: 1}"),
    yaml.safe_load("states: &s {a: {label: *s}}\ntransitions: &t [*t]"),  # aliases that contain themselves
]


def test_garbage_documents_compare_without_raising() -> None:
    for old in GARBAGE:
        for new in GARBAGE:
            for change in compare(old, new):
                assert change.what in ("added", "removed", "changed") and change.detail


keys = st.text(max_size=5) | st.integers() | st.none()  # YAML allows keys JSON does not
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                           max_leaves=12)
documents = st.dictionaries(st.sampled_from(["states", "transitions", "fields", "parameters", "item_sla", "title",
                                             "create_roles", "x"]), json_values, max_size=5)


@given(documents, documents)
def test_any_document_compares_without_raising(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert all(isinstance(c, Change) for c in compare(old, new))
    assert compare(old, old) == ()


# -- the text -------------------------------------------------------------------------------------------------------

def test_yaml_text_keeps_chinese_and_the_languages_key_order() -> None:
    shuffled = {"transitions": TICKET["transitions"], "states": TICKET["states"], "title": "报事工单", "id": "ticket"}
    text = yaml_text(shuffled)
    assert text.splitlines()[:2] == ["id: ticket", "title: 报事工单"]
    assert "roles: [cs_supervisor]" in text  # plain lists inline, as administrators write them
    assert yaml.safe_load(text) == shuffled


def test_text_diff_numbers_both_sides_and_leaves_out_unchanged_runs() -> None:
    old = "\n".join(f"line {n}" for n in range(1, 21))
    new = old.replace("line 10", "line ten").replace("line 20", "line 20\nline 21")
    lines = text_diff(old, new)
    assert lines[0] == DiffLine("gap", None, None, "…… 6 行未改变 ……")
    assert DiffLine("removed", 10, None, "line 10") in lines
    assert DiffLine("added", None, 10, "line ten") in lines
    assert DiffLine("same", 13, 13, "line 13") in lines
    assert DiffLine("same", 14, 14, "line 14") not in lines
    assert lines[-1] == DiffLine("added", None, 21, "line 21")
    assert [line.kind for line in lines].count("gap") == 2


def test_text_diff_of_equal_texts_is_empty() -> None:
    assert text_diff("a\nb\n", "a\nb") == ()
    assert text_diff("", "a") == (DiffLine("added", None, 1, "a"),)
