"""engine/language/graph.py: the diagram's edges (grouped, timed, focused) and the Mermaid and DOT text,
every label escaped for its format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.language.definition import WorkflowDefinition
from engine.language.graph import GROUP_AT, diagram_edges, dot, mermaid, timed_steps
from engine.language.loader import Loader
from tests._loaders import loader_of

ROOT = Path(__file__).resolve().parents[2]

ODD = r'''
id: odd
title: "奇怪的\"标签\"; 测试\\"
states:
  open: {label: "待处理; 下一步 \"引号\" <br> 井#号\\", initial: true}
  wait: {label: "等待\n第二行", paused: true, timers: [{after: 2d, fire: nudge}]}
  done: {label: "完成\\", final: true}
transitions:
  - {name: go, label: "转交; <b>加粗</b> 'a' \"引\"\n换行\\", from: open, to: wait, roles: [staff]}
  - {name: nudge, label: "催办\\", from: wait, to: done}
  - {name: close, label: 关闭, from: [open, wait], to: done, roles: [staff]}
'''

MANY = '''
id: many
title: 多来源
states:
  a: {label: 甲, initial: true}
  b: {label: 乙}
  c: {label: 丙}
  d: {label: 丁}
  stop: {label: 已撤回, final: true}
  done: {label: 完成, final: true}
transitions:
  - {name: next, label: 下一步, from: a, to: b, roles: [staff]}
  - {name: next, label: 下一步, from: b, to: c, roles: [staff]}
  - {name: next, label: 下一步, from: c, to: d, roles: [staff]}
  - {name: finish, label: 办结, from: d, to: done, roles: [staff]}
  - {name: withdraw, label: 撤回, from: "*", to: stop, roles: [staff]}
  - {name: note, label: 记录, from: a, to: a, roles: [staff], stay: true}
  - {name: note, label: 记录, from: b, to: b, roles: [staff], stay: true}
'''


def load(tmp_path: Path, text: str) -> WorkflowDefinition:
    (tmp_path / "roles.yaml").write_text("staff: 员工\n", encoding="utf-8")
    path = tmp_path / f"{text.split('id: ')[1].split()[0]}.yaml"
    path.write_text(text, encoding="utf-8")
    return Loader(tmp_path).load(path)


@pytest.fixture
def odd(tmp_path: Path) -> WorkflowDefinition:
    return load(tmp_path, ODD)


def test_mermaid_writes_the_characters_its_parser_reads_as_entity_codes(odd: WorkflowDefinition) -> None:
    text = mermaid(odd)
    assert 'state "待处理#59; 下一步 #quot;引号#quot; #lt;br#gt; 井#35;号#92;" as open' in text
    assert "    open --> wait: 转交#59; #lt;b#gt;加粗#lt;/b#gt; 'a' #quot;引#quot; 换行#92;\n" in text
    assert "%% 奇怪的#quot;标签#quot;#59; 测试#92; (odd)" in text
    for line in text.splitlines():  # nothing a label holds ends a statement or opens markup
        assert ";" not in re.sub(r"#\w+;", "", line) and "<" not in line and "\\" not in line, line
    assert "    第二行" not in text  # a newline in a label never starts a line of its own


def test_mermaid_labels_have_no_raw_quote_inside_the_quoted_state_text(odd: WorkflowDefinition) -> None:
    for line in mermaid(odd).splitlines():
        if line.lstrip().startswith("state "):
            assert re.fullmatch(r'    state "[^"]*" as \w+', line), line


def test_mermaid_marks_paused_states_and_timed_steps(odd: WorkflowDefinition) -> None:
    text = mermaid(odd)
    assert 'state "等待 第二行（暂停计时）" as wait' in text
    assert "    wait --> done: 催办#92;（定时）\n" in text
    assert "    open --> done: 关闭\n" in text


def test_dot_escapes_backslashes_quotes_and_newlines(odd: WorkflowDefinition) -> None:
    text = dot(odd)
    assert 'label="奇怪的\\"标签\\"; 测试\\\\";' in text
    assert '"open" [label="待处理; 下一步 \\"引号\\" <br> 井#号\\\\", shape=box, style="bold"];' in text
    assert '"open" -> "wait" [label="转交; <b>加粗</b> \'a\' \\"引\\"\\n换行\\\\"];' in text
    # a trailing backslash no longer swallows the closing quote: every quoted string closes on its line
    for line in text.splitlines():
        unescaped = re.sub(r"\\.", "", line)
        assert unescaped.count('"') % 2 == 0, line


def test_dot_marks_paused_states_and_dashes_timed_steps(odd: WorkflowDefinition) -> None:
    text = dot(odd)
    assert '"wait" [label="等待\\n第二行（暂停计时）", shape=box, style="dashed"];' in text
    assert '"wait" -> "done" [label="催办\\\\", style="dashed"];' in text
    assert '"wait" -> "done" [label="关闭"];' in text


def test_timed_steps_are_those_a_timer_or_a_limit_fires(odd: WorkflowDefinition) -> None:
    assert timed_steps(odd) == {("wait", "nudge")}
    timed = {(e.sources, e.target, e.label) for e in diagram_edges(odd) if e.timed}
    assert timed == {(("wait",), "done", "催办\\")}


def test_a_step_from_many_states_into_one_is_one_grouped_edge(tmp_path: Path) -> None:
    definition = load(tmp_path, MANY)
    edges = diagram_edges(definition)
    grouped = [e for e in edges if e.grouped]
    assert len(grouped) == 1
    assert grouped[0].sources == ("a", "b", "c", "d") and grouped[0].target == "stop" and grouped[0].label == "撤回"
    assert len(grouped[0].sources) >= GROUP_AT
    assert not any(e.label == "撤回" and not e.grouped for e in edges)
    assert [(e.target, e.label) for e in edges if e.stays] == [("a", "记录"), ("b", "记录")]  # loops never group
    text = mermaid(definition)
    assert 'state "从任意状态（4 个）" as from_many_1' in text
    assert "    %% from_many_1: a, b, c, d" in text and "    from_many_1 --> stop: 撤回" in text
    assert "a --> stop" not in text
    assert '"from_many_1" [label="从任意状态（4 个）", shape=note, style="dashed", tooltip="甲、乙、丙、丁"];' in dot(definition)


def test_focus_keeps_only_the_edges_of_one_state(tmp_path: Path) -> None:
    definition = load(tmp_path, MANY)
    edges = diagram_edges(definition, "b")
    assert all("b" in (*e.sources, e.target) for e in edges)
    assert {(e.sources, e.target) for e in edges} == {(("a",), "b"), (("b",), "c"), (("b",), "stop"), (("b",), "b")}
    assert diagram_edges(definition, "no_such_state") == diagram_edges(definition)
    assert "a --> b" in mermaid(definition, focus="b") and "c --> d" not in mermaid(definition, focus="b")


def test_dunning_draws_far_fewer_edges_than_it_has_steps() -> None:
    definition = loader_of(ROOT / "workflows").load(ROOT / "workflows" / "dunning.yaml")
    edges = diagram_edges(definition)
    assert len(definition.graph.edges()) >= 100
    assert len([e for e in edges if not e.stays]) < 40
    paid = next(e for e in edges if e.grouped and e.target == "paid")
    assert len(paid.sources) == 19
    assert any(e.timed for e in edges)
