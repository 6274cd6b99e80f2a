"""The scenario runner's `item:` (spawned, parent, main) and its expectations on another workflow's
item, log fields included (engine/cli/scenarios.py), on tests/data/good/steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.scenarios import run_paths

JOB = Path(__file__).resolve().parents[1] / "data" / "good" / "steps" / "job.yaml"
START = "steps:\n  - create: {unit: '1', note: go, log: 第一条}\n    as: clerk\n"
SENT = START + "  - fire: send\n    as: clerk\n"


def _run(tmp_path: Path, body: str) -> str | None:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: 试一试\nworkflow: {JOB}\n{body}", encoding="utf-8")
    [result] = run_paths([path])
    return result.failure


def test_item_selects_the_spawned_item_its_parent_and_the_main_one(tmp_path):
    body = SENT + (
        "  - item: spawned fix\n    expect: {state: new, fields: {unit: '1', note: go}}\n"
        "  - fire: start\n    as: worker\n    expect: {state: started}\n"
        "  - item: parent\n    expect: {state: signing, fields: {log: [第一条]}}\n"
        "  - item: spawned fix\n  - item: main\n    expect: {state: signing, version: 3}\n")
    assert _run(tmp_path, body) is None


@pytest.mark.parametrize(("body", "failure"), [
    (START + "  - item: spawned fix\n", "step 2 (item spawned fix): JB-000001 has spawned no fix item"),
    (START + "  - item: parent\n", "step 2 (item parent): JB-000001 was not spawned by another item"),
    (START + "  - item: child\n", "step 2 (item child): item is one of main, parent, spawned <workflow>"),
    ("steps:\n  - item: main\n", "step 1 (item main): there is no item yet"),
    (SENT + "  - item: spawned fix\n    expect: {fields: {log: [x]}}\n",
     "step 3 (item spawned fix): expected field log, but the workflow fix has no such field"),
    (SENT + "  - item: spawned fix\n    expect: {state: started}\n",
     "step 3 (item spawned fix): expected state started, got new"),
    (START + "  - item: main\n    expect: {fields: {log: [第一条, 第二条]}}\n",
     "step 2 (item main): expected log ['第一条', '第二条'], got ['第一条']"),
])
def test_a_wrong_item_or_expectation_fails_with_a_plain_message(tmp_path, body, failure):
    got = _run(tmp_path, body)
    assert got is not None and failure in got, got
