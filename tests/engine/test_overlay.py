"""Per-estate overlays (engine/language/overlay.py), on the demo folder tests/data/overlay_demo.

overlay_demo/repair.yaml is the base; estates/sunshine/repair.yaml is a clean overlay using
every merge rule; estates/harbour/repair.yaml is a broken one whose problems must point at
its own lines (and, for what it breaks in the base, at the base's lines).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.errors import DefinitionError
from engine.language.loader import Loader, estates_with_overlays, overlay_target
from engine.language.overlay import apply_overlay
from engine.language.source import read_yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "data" / "overlay_demo"
BASE = DEMO / "repair.yaml"
SUNSHINE = DEMO / "estates" / "sunshine" / "repair.yaml"
HARBOUR = DEMO / "estates" / "harbour" / "repair.yaml"


@pytest.fixture(scope="module")
def loader() -> Loader:
    return Loader(DEMO)


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line of `path` containing `text`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_the_base_alone_is_clean(loader: Loader) -> None:
    assert loader.problems(BASE) == []
    definition = loader.load(BASE)
    assert [t.name for t in definition.transitions] == ["dispatch", "finish", "charge", "accept", "cancel"]


def test_the_demo_folder_lists_its_overlays() -> None:
    assert estates_with_overlays(DEMO) == {"harbour": ["repair"], "sunshine": ["repair"]}
    assert overlay_target(SUNSHINE) == (DEMO, DEMO / "repair.yaml", "sunshine")


def test_a_clean_overlay_merges(loader: Loader) -> None:
    assert loader.problems(BASE, estate="sunshine") == []
    merged = loader.load(BASE, estate="sunshine")
    assert merged.id == "repair"
    assert merged.title == "报修（阳光小区）"  # a scalar replaced
    assert merged.number_prefix == "BX"  # a key the overlay does not name is kept
    # a new field, after the base's fields
    assert list(merged.fields) == ["unit", "description", "paid", "fee", "photo_note"]
    assert merged.fields["photo_note"].label == "现场照片说明"
    # a state overridden: mappings merge (label kept), lists are replaced (one sla rule, the overlay's)
    repairing = merged.states["repairing"]
    assert repairing.label == "维修中"
    assert [(rule.within.text, rule.escalate_to) for rule in repairing.sla] == [("4h", ("project_manager",))]
    assert merged.states["checking"].label == "待业主验收"
    assert list(merged.states) == ["registered", "repairing", "checking", "closed"]


def test_transitions_are_matched_by_name_and_from(loader: Loader) -> None:
    merged = loader.load(BASE, estate="sunshine")
    by_name = {t.name: t for t in merged.transitions}
    # overridden: keys merged onto the base's entry, lists replaced
    finish = by_name["finish"]
    assert (finish.label, finish.sources, finish.dest) == ("完工", ("repairing",), "checking")
    assert finish.roles == ("engineer", "housekeeper")
    assert finish.require == ("photo_note",)
    # removed, although the overlay wrote its `from` list in another order
    assert "cancel" not in by_name
    # added at the end
    assert merged.transitions[-1].name == "rework"
    assert (by_name["rework"].sources, by_name["rework"].dest) == (("checking",), "repairing")
    # untouched entries keep their place and content
    assert [t.name for t in merged.transitions] == ["dispatch", "finish", "charge", "accept", "rework"]
    assert by_name["charge"].when is not None and by_name["charge"].when.source == "paid == true"


def test_the_base_is_not_changed_by_merging(loader: Loader) -> None:
    loader.load(BASE, estate="sunshine")
    again = loader.load(BASE)
    assert "photo_note" not in again.fields
    assert again.states["checking"].label == "待验收"


def test_an_estate_without_overlay_gets_the_base(loader: Loader) -> None:
    assert loader.problems(BASE, estate="nowhere") == []
    assert loader.load(BASE, estate="nowhere").title == "报修"


def test_a_broken_overlays_problems_point_at_its_own_lines(loader: Loader) -> None:
    problems = loader.problems(BASE, estate="harbour")
    found = {(p.file, p.line, p.column, p.dotted_path, p.message) for p in problems}
    over, base = str(HARBOUR), str(BASE)
    assert found == {
        (over, line_of(HARBOUR, "id: repairs"), 5, "id", "an overlay keeps the base's id 'repair'"),
        (over, line_of(HARBOUR, "lable"), 14, "states.checking.lable", "unknown key 'lable' (did you mean 'label'?)"),
        (over, line_of(HARBOUR, "waiting"), 21, "states.waiting.remove",
         "nothing to remove: the base has no entry 'waiting'"),
        (over, line_of(HARBOUR, "money"), 15, "fields.fee.type", "'money' is not allowed (did you mean 'phone'?)"),
        (over, line_of(HARBOUR, "enginer"), 45, "transitions.1.roles.0",
         "unknown role 'enginer' (did you mean 'engineer'?); the roles of roles.yaml are: frontdesk（前台客服）, "
         "housekeeper（贴心管家）, cs_supervisor（客服主管）, project_manager（项目经理）, engineer（工程部）, finance（财务）"),
        (over, line_of(HARBOUR, "name: close"), 43, "transitions.1.remove",
         "nothing to remove: the base has no transition 'close' from 'checking'"),
        # `closed: {remove: true}` removed a state the base's transitions still go to: those are the base's lines
        (base, line_of(BASE, "name: charge"), 51, "transitions.2.to", "unknown state 'closed'"),
        (base, line_of(BASE, "name: accept"), 51, "transitions.3.to", "unknown state 'closed'"),
        (base, line_of(BASE, "name: cancel"), 66, "transitions.4.to", "unknown state 'closed'"),
    }
    with pytest.raises(DefinitionError) as raised:
        loader.load(BASE, estate="harbour")
    assert len(raised.value.problems) == len(problems)


def test_overlay_positions_are_kept_for_merged_keys() -> None:
    base_text, over_text = BASE.read_text(encoding="utf-8"), SUNSHINE.read_text(encoding="utf-8")
    base, bmap, _ = read_yaml(base_text, "base.yaml")
    over, omap, _ = read_yaml(over_text, "over.yaml")
    merged, smap, problems = apply_overlay(base, bmap, over, omap)
    assert problems == []
    assert smap.position(("states", "repairing", "sla", 0, "within"))[:2] == ("over.yaml", line_of(SUNSHINE, "4h"))
    assert smap.position(("states", "repairing", "label"))[:2] == ("base.yaml", line_of(BASE, "维修中"))
    assert smap.position(("fields", "photo_note", "label"))[0] == "over.yaml"
    assert smap.position(("fields", "unit"))[0] == "base.yaml"
    assert smap.position(("transitions", 1, "roles"))[:2] == ("over.yaml", line_of(SUNSHINE, "roles: [engineer"))
    assert smap.position(("transitions", 1, "to"))[:2] == ("base.yaml", line_of(BASE, "name: finish"))
    assert smap.position(("transitions", 4, "name"))[:2] == ("over.yaml", line_of(SUNSHINE, "name: rework"))
    assert base["title"] == "报修" and "photo_note" not in base["fields"]  # inputs untouched


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ("- a\n- b\n", "an overlay must be a mapping of keys to override"),
        ("states: [a]\n", "must be a mapping (key: value)"),
        ("transitions: {a: 1}\n", "must be a list"),
    ],
)
def test_malformed_overlays(overlay: str, message: str) -> None:
    base, bmap, _ = read_yaml(BASE.read_text(encoding="utf-8"), "base.yaml")
    over, omap, _ = read_yaml(overlay, "over.yaml")
    _, _, problems = apply_overlay(base, bmap, over, omap)
    assert [(p.file, p.message) for p in problems] == [("over.yaml", message)]


def test_validate_on_the_demo_folder_reports_the_overlay_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate", "tests/data/overlay_demo"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stdout.splitlines()
    harbour = "tests/data/overlay_demo/estates/harbour/repair.yaml"
    assert f"{harbour}:{line_of(HARBOUR, 'lable')}:14: states.checking.lable: unknown key 'lable' (did you mean 'label'?)" in lines
    assert not any("sunshine" in line for line in lines)
    assert len(lines) == 9


def test_validate_one_overlay_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate", "tests/data/overlay_demo/estates/sunshine/repair.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "OK: 0 workflow(s), 1 overlay(s) and 0 calendar(s) checked, no problems\n"


def test_graph_with_an_estate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["graph", "repair", "--workflows", "tests/data/overlay_demo",
                                       "--estate", "sunshine"])
    assert result.exit_code == 0, result.output
    assert "    checking --> repairing: 返修" in result.stdout
    assert 'state "待业主验收" as checking' in result.stdout
    assert "取消" not in result.stdout
