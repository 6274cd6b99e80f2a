"""Routing tables (workflows/estates/<estate>/_routing.yaml): checked by `estateflow validate`, stored by
`estateflow publish`, read back by `routed_user` for the forms' pre-filled person."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.language.loader import Loader, overlay_files, routing_files
from engine.language.routing import RoutingTable
from engine.runtime.registry import publish_site
from engine.runtime.routing import current_routing, routed_user
from engine.store.db import transaction

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
DEMO_ROUTING = WORKFLOWS / "estates" / "demo" / "_routing.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped definitions folder, to break."""
    copy = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, copy)
    return copy


def _problems(folder: Path, text: str) -> list[str]:
    path = folder / "estates" / "demo" / "_routing.yaml"
    path.write_text(text, encoding="utf-8")
    return [f"{p.line}:{p.column} {p.dotted_path}: {p.message}" for p in Loader(folder).routing_problems(path)]


def test_a_routing_file_is_no_overlay():
    assert DEMO_ROUTING in routing_files(WORKFLOWS)
    assert DEMO_ROUTING not in overlay_files(WORKFLOWS)


def test_the_demo_routing_is_clean_and_routes_by_building_and_by_field():
    table = Loader(WORKFLOWS).load_routing(DEMO_ROUTING)
    assert table.user("housekeeper", {}, "3") == "housekeeper"
    assert table.user("dispatch", {"department": "engineering"}, None) == "engineering_lead"
    assert table.user("dispatch", {"department": "developer"}, None) == "cs_supervisor"  # the default
    assert table.user("repair_trade", {"trade": "plumbing"}, "3") == "engineer"
    assert table.user("housekeeper", {}, None) is None
    assert table.user("no_such_route", {}, "3") is None


def test_a_number_key_is_a_building_name():
    table = RoutingTable.of({"routes": {"housekeeper": {"by": "building", "to": {3: "zhang"}}}})
    assert table.user("housekeeper", {}, "3") == "zhang"


@pytest.mark.parametrize(("text", "expected"), [
    ("routes:\n  dispatch: {by: departmnt, to: {engineering: lead}}\n",
     "2:18 routes.dispatch.by: unknown field 'departmnt' (did you mean 'department'?)"),
    ("routes:\n  dispatch: {by: department, to: {enginering: lead}}\n",
     "2:35 routes.dispatch.to.enginering: 'enginering' is not an option of department (did you mean 'engineering'?)"),
    ("routes:\n  dispatch: {by: department, to: {engineering: 工程主管}}\n",
     "2:48 routes.dispatch.to.engineering: '工程主管' is not a username"),
    ("routes:\n  dispatch: {by: department}\n", "2:3 routes.dispatch: missing required key 'to'"),
    ("routes:\n  dispatch: {by: department, to: {engineering: lead}, otherwise: boss}\n",
     "2:55 routes.dispatch.otherwise: unknown key 'otherwise' (allowed: by, to, default)"),
    ("routes:\n  repair_trade: {by: department, to: {engineering: lead}}\n",
     "2:22 routes.repair_trade.by: workflow 'repair' fills 'engineer' by this route, but has no field 'department'"),
])
def test_routing_mistakes_are_reported_at_their_line(folder, text, expected):
    found = _problems(folder, text)
    assert any(line.startswith(expected) for line in found), found


def test_validate_checks_routing_files_and_refuses_other_underscore_files(folder):
    (folder / "estates" / "demo" / "_routes.yaml").write_text("routes: {}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "_routes.yaml:1:1: (document): not an overlay (the name starts with _)" in result.stdout


def test_a_field_route_must_be_one_a_routing_file_defines(folder):
    text = (folder / "repair.yaml").read_text(encoding="utf-8").replace("route: repair_trade", "route: repair_trades")
    (folder / "repair.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert "fields.engineer.route: unknown route 'repair_trades' (did you mean 'repair_trade'?)" in result.stdout


def test_publish_stores_the_routing_once_and_routed_user_reads_the_newest(db, folder):
    with transaction(db.factory) as session:
        _, first = publish_site(session, folder)
    with transaction(db.factory) as session:
        _, again = publish_site(session, folder)
        assert routed_user(session, "demo", "dispatch", {"department": "engineering"}, None) == "engineering_lead"
        assert routed_user(session, "riverside", "dispatch", {"department": "engineering"}, None) is None
    assert [(r.estate_id, r.version, r.created) for r in first] == [("demo", 1, True)]
    assert [(r.estate_id, r.version, r.created) for r in again] == [("demo", 1, False)]
    text = DEMO_ROUTING.read_text(encoding="utf-8").replace("engineering: engineering_lead", "engineering: wang")
    (folder / "estates" / "demo" / "_routing.yaml").write_text(text, encoding="utf-8")
    with transaction(db.factory) as session:
        _, changed = publish_site(session, folder)
        assert routed_user(session, "demo", "dispatch", {"department": "engineering"}, None) == "wang"
        table = current_routing(session, "demo")
    assert [(r.version, r.created) for r in changed] == [(2, True)]
    assert table is not None and table.user("housekeeper", {}, "1") == "housekeeper"


def test_a_broken_routing_file_publishes_nothing(db, folder):
    _problems(folder, DEMO_ROUTING.read_text(encoding="utf-8").replace("by: department", "by: nothing"))
    with pytest.raises(Exception, match="unknown field 'nothing'"), transaction(db.factory) as session:
        publish_site(session, folder)
    with db.factory() as session:
        assert current_routing(session, "demo") is None
