"""engine/language/machine.py: the transitions.Machine is the graph the runtime asks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from transitions import Machine

from engine.language.definition import WorkflowDefinition
from engine.language.graph import mermaid
from engine.language.loader import compile_document
from engine.language.machine import StateGraph

ROLES = {"staff": "员工", "boss": "主管"}
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOCUMENT = {
    "id": "route", "title": "分派",
    "fields": {
        "amount": {"type": "integer", "label": "金额"},
        "urgent": {"type": "boolean", "label": "紧急"},
    },
    "states": {
        "open": {"label": "待处理", "initial": True},
        "small": {"label": "小额"},
        "big": {"label": "大额"},
        "fast": {"label": "加急"},
        "done": {"label": "完成", "final": True},
    },
    "transitions": [
        {"name": "route", "label": "分派", "from": "open", "to": "small", "roles": ["staff"]},
        {"name": "route", "label": "分派", "from": "open", "to": "big", "roles": ["staff"], "when": "amount > 100"},
        {"name": "close", "label": "关闭", "from": ["small", "big", "fast"], "to": "done", "roles": ["staff"]},
        {"name": "route", "label": "分派", "from": "open", "to": "fast", "roles": ["boss"], "when": "urgent"},
    ],
}


@pytest.fixture
def definition() -> WorkflowDefinition:
    # Compiled afresh for each test: some tests below rearrange its Machine.
    return compile_document(DOCUMENT, roles=ROLES)


def test_the_compiler_builds_one_machine_without_models(definition: WorkflowDefinition) -> None:
    assert isinstance(definition.graph, StateGraph)
    assert isinstance(definition.graph.machine, Machine)
    assert definition.graph.machine.models == []


def test_the_machine_tries_guarded_branches_in_file_order_then_the_otherwise(definition: WorkflowDefinition) -> None:
    machine_order = [str(t.dest) for t in definition.graph.machine.events["route"].transitions["open"]]
    assert machine_order == ["big", "fast", "small"]
    assert [t.dest for t in definition.transitions_from("open", "route")] == machine_order


def test_transitions_from_a_state_come_in_file_order(definition: WorkflowDefinition) -> None:
    assert [t.dest for t in definition.transitions_from("open")] == ["small", "big", "fast"]
    assert [t.name for t in definition.transitions_from("big")] == ["close"]
    assert definition.transitions_from("done") == ()
    assert definition.transitions_from("open", "close") == ()
    assert definition.transitions_from("open", "no_such_name") == ()


def test_the_otherwise_is_chosen_only_when_no_guard_holds(definition: WorkflowDefinition) -> None:
    branches = definition.transitions_from("open", "route")
    assert definition.choose("open", branches, {"amount": 500, "urgent": True}, NOW).dest == "big"
    assert definition.choose("open", branches, {"amount": 5, "urgent": True}, NOW).dest == "fast"
    assert definition.choose("open", branches, {"amount": 5}, NOW).dest == "small"
    assert definition.choose("open", branches, {}, NOW).dest == "small"


def test_the_choice_skips_branches_not_among_the_candidates(definition: WorkflowDefinition) -> None:
    staff_only = tuple(t for t in definition.transitions_from("open") if t.name == "route" and "staff" in t.roles)
    assert [t.dest for t in staff_only] == ["small", "big"]  # file order, as `available` passes them
    assert definition.choose("open", staff_only, {"amount": 5, "urgent": True}, NOW).dest == "small"
    assert definition.choose("open", staff_only, {"amount": 500}, NOW).dest == "big"
    guarded_only = tuple(t for t in staff_only if t.when is not None)
    assert definition.choose("open", guarded_only, {"amount": 5}, NOW) is None


def test_the_runtime_follows_the_machines_order(definition: WorkflowDefinition) -> None:
    # Both guards hold; whichever the Machine lists first wins, whatever the file says.
    values = {"amount": 500, "urgent": True}
    assert definition.choose("open", definition.transitions_from("open", "route"), values, NOW).dest == "big"
    definition.graph.machine.events["route"].transitions["open"].reverse()
    assert [t.dest for t in definition.transitions_from("open", "route")] == ["small", "fast", "big"]
    assert definition.choose("open", definition.transitions_from("open", "route"), values, NOW).dest == "small"


def test_the_runtime_asks_the_machines_conditions(definition: WorkflowDefinition) -> None:
    [to_big, to_fast, to_small] = definition.graph.machine.events["route"].transitions["open"]
    to_big.conditions[0].target = False  # the Machine now takes `big` when the guard is false
    branches = definition.transitions_from("open", "route")
    assert definition.choose("open", branches, {"amount": 5}, NOW).dest == "big"
    assert definition.choose("open", branches, {"amount": 500}, NOW).dest == "small"


def test_the_diagram_edges_come_from_the_machine(definition: WorkflowDefinition) -> None:
    edges = [(source, t.dest) for source, t in definition.graph.edges()]
    assert edges == [("open", "small"), ("open", "big"), ("small", "done"), ("big", "done"), ("fast", "done"),
                     ("open", "fast")]
    assert "open --> small: 分派" in mermaid(definition)
    assert definition.graph.reachable() == {"open", "small", "big", "fast", "done"}
    assert definition.graph.reachable("done") == {"done"}
