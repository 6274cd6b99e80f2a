"""The scenario runner and the store commands of the CLI (`estateflow test`, `db upgrade`, `publish`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import database as commands
from engine.cli.scenarios import run_paths

TESTS = Path(__file__).resolve().parents[1]
OURS = TESTS / "data" / "scenarios"
TICKET = TESTS / "data" / "good" / "runtime" / "ticket.yaml"


def _scenario(tmp_path: Path, body: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"name: 试一试\nworkflow: {TICKET}\n{body}", encoding="utf-8")
    return path


def test_our_scenarios_pass():
    results = list(run_paths([OURS]))
    assert len(results) >= 2
    assert [str(r) for r in results if not r.passed] == []


# The shipped scenarios (workflows/scenarios/, tests/scenarios/) run one test each in test_shipped_scenarios.py.


@pytest.mark.parametrize(("steps", "failure"), [
    ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n    expect: {state: closed}\n",
     "step 1 (create as clerk): expected state closed, got open"),
    ("steps:\n  - create: {kind: noise}\n    as: clerk\n",
     "step 1 (create as clerk): unexpected error invalid_fields: unit: 必填"),
    ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n  - fire: start\n    as: boss\n"
     "    data: {team: a}\n    expect_error: guard_failed\n",
     "step 2 (fire start as boss): expected error guard_failed, got state working"),
    ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n  - fire: start\n    as: clerk\n"
     "    expect_error: guard_failed\n",
     "step 2 (fire start as clerk): expected error guard_failed, got not_permitted: 你的角色不能执行 start"),
    ("steps:\n  - fire: start\n    as: boss\n", "step 1 (fire start as boss): there is no item yet: create one first"),
    ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: chef\n",
     "step 1 (create as chef): unknown role 'chef' (not in roles.yaml)"),
    ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n  - advance: 3d\n    expect: {overdue: true}\n",
     "step 2 (advance 3d): expected overdue true, got false"),
    ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n  - advance: 3d\n    expect: {due: soon}\n",
     "step 2 (advance 3d): expect.due is one of not_yet, due, overdue, none or a time such as"),
    ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n    expect: {due: due}\n",
     "step 1 (create as clerk): expected due due, got none"),
    ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n    expect: {fields: {unit: '2', amount: 3}}\n",
     "step 1 (create as clerk): expected unit '2', got '1'; expected amount '3', got unset"),
    ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n    expext: {state: open}\n",
     "step 1 (create as clerk): unknown key 'expext'"),
])
def test_a_failing_step_is_reported_with_its_number_expectation_and_outcome(tmp_path, steps, failure):
    [result] = run_paths([_scenario(tmp_path, steps)])
    assert not result.passed
    assert result.failure.startswith(failure), result.failure


def test_a_failed_create_keeps_the_current_item(tmp_path):
    steps = ("steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n  - create: {kind: noise}\n"
             "    as: clerk\n    expect_error: invalid_fields\n    expect: {state: open, version: 1}\n")
    [result] = run_paths([_scenario(tmp_path, steps)])
    assert result.passed, result.failure


def test_cli_test_prints_pass_and_fail_and_exits_1_when_any_fails(tmp_path):
    good = _scenario(tmp_path, "steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n", "a.yaml")
    bad = _scenario(tmp_path, "steps:\n  - create: {kind: noise, unit: '1'}\n    as: clerk\n    expect: {version: 2}\n",
                    "b.yaml")
    result = CliRunner().invoke(commands.test_cmd, [str(good)])
    assert (result.exit_code, result.stdout) == (0, "PASS 试一试\n")
    result = CliRunner().invoke(commands.test_cmd, [str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "PASS 试一试", "FAIL 试一试: step 1 (create as clerk): expected version 2, got 1"]
    assert "Traceback" not in result.output and bad.exists()


def test_a_broken_workflow_fails_the_scenario_with_its_problems(tmp_path):
    (tmp_path / "roles.yaml").write_text("clerk: 前台\n", encoding="utf-8")
    (tmp_path / "w.yaml").write_text("id: w\ntitle: x\nstates: {}\n", encoding="utf-8")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: n\nworkflow: w.yaml\nsteps:\n  - create: {}\n    as: clerk\n", encoding="utf-8")
    [result] = run_paths([scenario])
    assert result.failure.startswith("the workflow has problems:") and "w.yaml:" in result.failure


def test_cli_db_upgrade_and_publish(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    runner = CliRunner()
    assert runner.invoke(commands.db, ["upgrade", "--url", url]).exit_code == 0
    workflows = str(TICKET.parent)
    first = runner.invoke(commands.publish, ["--url", url, "--workflows", workflows])
    assert first.exit_code == 0
    assert first.stdout.splitlines() == ["job v1: published", "ticket v1: published", "timed v1: published",
                                         "files: 5 changed, 0 removed (5 in all)"]
    again = runner.invoke(commands.publish, ["--url", url, "--workflows", workflows])
    assert again.stdout.splitlines() == ["job v1: unchanged", "ticket v1: unchanged", "timed v1: unchanged",
                                         "files: 0 changed, 0 removed (5 in all)"]


def test_cli_publish_refuses_a_broken_folder_and_publishes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "roles.yaml").write_text("clerk: 前台\n", encoding="utf-8")
    (tmp_path / "wf" / "w.yaml").write_text("id: w\ntitle: x\n", encoding="utf-8")
    runner = CliRunner()
    runner.invoke(commands.db, ["upgrade", "--url", url])
    result = runner.invoke(commands.publish, ["--url", url, "--workflows", str(tmp_path / "wf")])
    assert result.exit_code == 1 and "w.yaml:" in result.stderr and "nothing was published" in result.stderr
    assert "Traceback" not in result.output


def test_cli_publish_before_upgrade_says_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(commands.publish, ["--url", url, "--workflows", str(TICKET.parent)])
    assert result.exit_code == 1 and "estateflow db upgrade" in result.stderr


WORKFLOWS = TESTS.parent / "workflows"


def _repair(tmp_path: Path, head: str, steps: str) -> Path:
    path = tmp_path / "repair.yaml"
    path.write_text(f"name: 报修\nworkflow: repair\n{head}steps:\n{steps}", encoding="utf-8")
    return path


def test_users_name_people_with_roles_and_as_acts_as_them(tmp_path):
    steps = ("  - create: {unit: '3-1-502', description: 漏水}\n    as: frontdesk\n"
             "  - fire: dispatch\n    as: frontdesk\n"
             "    data: {area: in_unit, trade: plumbing, paid: false, engineer: wang}\n"
             "    expect: {notified: ['@wang']}\n"
             "  - fire: accept\n    as: li\n    expect_error: guard_failed\n"
             "  - fire: accept\n    as: wang\n    expect: {state: accepted}\n")
    [result] = run_paths([_repair(tmp_path, "users: {wang: [engineer], li: [engineer]}\n", steps)], WORKFLOWS)
    assert result.passed, result.failure


def test_a_user_with_an_unknown_role_is_reported_at_its_line(tmp_path):
    path = _repair(tmp_path, "users: {wang: [enginer]}\n", "  - create: {}\n    as: frontdesk\n")
    [result] = run_paths([path], WORKFLOWS)
    assert result.failure == f"{path}:3:8: users: unknown role 'enginer' (not in roles.yaml) for user wang"


def test_with_units_listed_only_those_units_exist(tmp_path):
    steps = ("  - create: {unit: '3-1-502', description: 漏水}\n    as: frontdesk\n"
             "  - create: {unit: '3-1-503', description: 漏水}\n    as: frontdesk\n    expect_error: invalid_fields\n")
    [listed] = run_paths([_repair(tmp_path, "units: ['3-1-502']\n", steps)], WORKFLOWS)
    [named] = run_paths([_repair(tmp_path, "", steps)], WORKFLOWS)
    assert listed.passed, listed.failure
    assert named.failure == "step 2 (create as frontdesk): expected error invalid_fields, got state registered"
