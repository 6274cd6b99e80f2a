"""Every shipped scenario (tests/scenarios/**/*.yaml) passes, one test per file.

The scenarios are the department's workflows proven step by step: the usual path, the
refusals, the revisit/escalation paths and the time limits of domain.md. They run through
the scenario runner's API (`engine.cli.scenarios.run_paths`), each on a fresh database, against
the shipped definitions folder `workflows/` (estate overlays included).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.scenarios import find_scenarios, run_paths
from engine.language.shipped import SHIPPED_WORKFLOWS

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "scenarios"
WORKFLOWS = ROOT / "workflows"
FILES = find_scenarios([SCENARIOS]) if SCENARIOS.exists() else []
SHIPPED = SHIPPED_WORKFLOWS
"""The product's workflows (a site's own ones in workflows/ have their own scenarios, not the product's)."""


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SCENARIOS)) for p in FILES])
def test_shipped_scenario_passes(path: Path) -> None:
    [result] = run_paths([path], WORKFLOWS)
    assert result.passed, f"{path.relative_to(ROOT)}: {result}"


@pytest.mark.parametrize("workflow", SHIPPED)
def test_each_workflow_has_at_least_four_scenarios(workflow: str) -> None:
    assert len(find_scenarios([SCENARIOS / workflow])) >= 4
