"""试运行: a draft is tried against the workflow's published scenarios before anyone publishes it
(engine/cli/trying.py), each scenario on a throw-away database, the live database untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.cli.trying import Target, draft_target, example_scenario, try_draft
from engine.runtime.definition_files import folder_files, store_files
from engine.store.db import transaction
from engine.store.models import DefinitionFile, Item
from tests.conftest import START, Database

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SURVEY = (WORKFLOWS / "survey.yaml").read_text(encoding="utf-8")
APPROVE = "    to: improving\n    roles: [cs_manager]\n"
"""Who approves a survey's results (workflows/survey.yaml); the scenarios have the manager approve."""


@pytest.fixture
def published(db: Database) -> Database:
    """The shipped definitions tree, scenarios included, stored as `estateflow publish` stores it."""
    with transaction(db.factory) as session:
        store_files(session, folder_files(WORKFLOWS), by="admin", comment=None, now=START)
    return db


def test_the_unchanged_workflow_passes_its_scenarios(published: Database) -> None:
    with published.factory() as session:
        tried = try_draft(session, "survey.yaml", SURVEY)
    assert tried.problems == ()
    assert len(tried.results) == len(list((WORKFLOWS / "scenarios" / "survey").glob("*.yaml")))
    assert [r.name for r in tried.results if not r.passed] == []
    assert tried.passed


def test_a_draft_that_breaks_a_scenario_fails_it_and_leaves_the_database_alone(published: Database) -> None:
    assert SURVEY.count(APPROVE) == 1
    draft = SURVEY.replace(APPROVE, "    to: improving\n    roles: [cs_supervisor]\n")
    with published.factory() as session:
        tried = try_draft(session, "survey.yaml", draft)
        stored = session.query(DefinitionFile).count()
        items = session.query(Item).count()
    failed = [r for r in tried.results if not r.passed]
    assert failed and not tried.passed
    assert all(r.file and r.file.startswith("scenarios/survey/") for r in failed)
    assert any("approve" in line and "not_permitted" in line for r in failed for line in r.lines)
    assert (stored, items) == (len(folder_files(WORKFLOWS)), 0)


def test_a_draft_that_does_not_validate_returns_its_problems_and_runs_nothing(published: Database) -> None:
    draft = SURVEY.replace(APPROVE, "    to: nowhere\n    roles: [cs_manager]\n")
    with published.factory() as session:
        tried = try_draft(session, "survey.yaml", draft)
    assert tried.results == ()
    assert tried.problems and all(p.file == "survey.yaml" for p in tried.problems)
    assert any("nowhere" in p.message for p in tried.problems)


def test_an_ad_hoc_scenario_runs_first_as_the_role_it_names(published: Database) -> None:
    with published.factory() as session:
        example = example_scenario(session, "survey.yaml", SURVEY)
        refused = example.replace("as: cs_supervisor", "as: frontdesk", 1)
        tried = try_draft(session, "survey.yaml", SURVEY, extra=refused)
    assert yaml.safe_load(example)["workflow"] == "survey"
    first = tried.results[0]
    assert (first.name, first.file, first.passed) == ("临时场景", None, False)
    assert any("not_permitted" in line for line in first.lines)


def test_the_example_scenario_of_a_workflow_passes(published: Database) -> None:
    with published.factory() as session:
        example = example_scenario(session, "survey.yaml", SURVEY)
        tried = try_draft(session, "scenarios/survey/usual_quarterly.yaml", _scenario(), extra=example)
    steps = yaml.safe_load(example)["steps"]
    assert [("create" in s, "fire" in s) for s in steps] == [(True, False), (False, True)]
    assert [(r.name, r.passed) for r in tried.results] == [("临时场景", True), (_name(), True)]


def test_an_overlay_runs_the_scenarios_of_its_estate(published: Database) -> None:
    overlay = (WORKFLOWS / "estates" / "plaza" / "complaint.yaml").read_text(encoding="utf-8")
    with published.factory() as session:
        tried = try_draft(session, "estates/plaza/complaint.yaml", overlay)
    plaza = [p for p in (WORKFLOWS / "scenarios" / "complaint").glob("*.yaml")
             if yaml.safe_load(p.read_text(encoding="utf-8")).get("estate") == "plaza"]
    assert sorted(r.file or "" for r in tried.results) == sorted(f"scenarios/complaint/{p.name}" for p in plaza)
    assert tried.passed


def test_a_scenario_naming_a_file_of_the_server_is_refused(published: Database) -> None:
    sneaky = "name: 偷看\nworkflow: ../../../../etc/hosts.yaml\nsteps:\n  - create: {}\n    as: frontdesk\n"
    with published.factory() as session:
        tried = try_draft(session, "survey.yaml", SURVEY, extra=sneaky, limit=0)
    [result] = tried.results
    assert not result.passed and "编号" in result.lines[0]
    assert tried.not_run == 5


@pytest.mark.parametrize(("path", "target"), [
    ("complaint.yaml", Target("complaint")),
    ("estates/plaza/complaint.yaml", Target("complaint", estate="plaza")),
    ("scenarios/repair/usual.yaml", Target("repair", scenario="scenarios/repair/usual.yaml")),
    ("roles.yaml", Target(None)),
    ("estates/demo/_routing.yaml", Target(None)),
    ("reports/workload.yaml", Target(None)),
])
def test_a_path_tries_the_workflow_it_belongs_to(path: str, target: Target) -> None:
    assert draft_target(path) == target


def _scenario() -> str:
    return (WORKFLOWS / "scenarios" / "survey" / "usual_quarterly.yaml").read_text(encoding="utf-8")


def _name() -> str:
    return str(yaml.safe_load(_scenario())["name"])
