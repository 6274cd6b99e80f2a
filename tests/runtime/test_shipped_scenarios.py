"""Every shipped scenario passes, one test per file.

The scenarios are the department's workflows proven step by step: the usual path, the
refusals, the revisit/escalation paths and the time limits of domain.md. Each workflow's own
live beside it in the definitions folder, `workflows/scenarios/<workflow>/*.yaml` (published with
it, and run by the browser's 试运行 against a draft); the scenarios of language features and of test
workflows stay in `tests/scenarios/`. They run through the scenario runner's API
(`engine.cli.scenarios.run_paths`), each on a fresh database, against the shipped definitions folder
`workflows/` (estate overlays included; a scenario naming a workflow file by its path uses that file).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.scenarios import find_scenarios, run_paths
from engine.language.shipped import SHIPPED_WORKFLOWS

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
WORKFLOW_SCENARIOS = WORKFLOWS / "scenarios"
TEST_SCENARIOS = ROOT / "tests" / "scenarios"
FILES = find_scenarios([folder for folder in (WORKFLOW_SCENARIOS, TEST_SCENARIOS) if folder.exists()])
SHIPPED = SHIPPED_WORKFLOWS
"""The product's workflows (a site's own ones in workflows/ have their own scenarios, not the product's)."""


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_shipped_scenario_passes(path: Path) -> None:
    [result] = run_paths([path], WORKFLOWS)
    assert result.passed, f"{path.relative_to(ROOT)}: {result}"


@pytest.mark.parametrize("workflow", SHIPPED)
def test_each_workflow_has_at_least_four_scenarios(workflow: str) -> None:
    assert len(find_scenarios([WORKFLOW_SCENARIOS / workflow])) >= 4


def test_no_shipped_workflow_keeps_its_scenarios_in_tests() -> None:
    left = {folder.name for folder in TEST_SCENARIOS.iterdir() if folder.is_dir()}
    assert left & set(SHIPPED) == set(), "a shipped workflow's scenarios belong in workflows/scenarios/<id>/"
