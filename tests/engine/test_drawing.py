"""engine/language/drawing.py and layout.py: the workflow drawn as SVG, safe to put inline in a page."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.language.definition import WorkflowDefinition
from engine.language.drawing import FONTS, SHADES, shade, svg
from engine.language.graph import diagram_edges
from engine.language.layout import layout
from engine.language.lettering import text_width, wrap
from engine.language.loader import Loader
from engine.language.shipped import SHIPPED_WORKFLOWS
from tests._loaders import loader_of

SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"

HOSTILE = r'''
id: hostile
title: "<script>alert(1)</script>"
states:
  open: {label: "待处理 <script>alert('x')</script> & \"引号\"", initial: true}
  wait: {label: "等待 onload=alert(1) <br> \u0001第二行", paused: true, timers: [{after: 2d, fire: nudge}]}
  done: {label: "完成]]><x/>", final: true}
transitions:
  - {name: go, label: "<img src=x onerror=alert(1)>; 转交\\", from: open, to: wait, roles: [staff]}
  - {name: nudge, label: "催办", from: wait, to: done}
'''


def shipped(workflow_id: str) -> WorkflowDefinition:
    return loader_of(WORKFLOWS).load(WORKFLOWS / f"{workflow_id}.yaml")


@pytest.fixture
def hostile(tmp_path: Path) -> WorkflowDefinition:
    (tmp_path / "roles.yaml").write_text("staff: 员工\n", encoding="utf-8")
    (tmp_path / "hostile.yaml").write_text(HOSTILE, encoding="utf-8")
    return Loader(tmp_path).load(tmp_path / "hostile.yaml")


def attributes(root: ET.Element) -> list[tuple[str, str, str]]:
    return [(element.tag, name, value) for element in root.iter() for name, value in element.attrib.items()]


def texts(root: ET.Element) -> str:
    return "".join(root.itertext())


def state_titles(root: ET.Element, definition: WorkflowDefinition) -> list[str]:
    found = [t.text or "" for t in root.iter(f"{SVG}title")]
    labels = [s.label.replace(chr(1), "") for s in definition.states.values()]  # XML cannot hold \x01: dropped
    return [t for t in found for label in labels if t.startswith(f"{label} · ")]


def test_labels_from_yaml_are_escaped_and_nothing_can_run(hostile: WorkflowDefinition) -> None:
    drawn = svg(hostile, links={"open": "/workflows/hostile/items?state=open&x=1"})
    root = ET.fromstring(drawn)  # well-formed XML, a control character in a label dropped
    assert root.tag == f"{SVG}svg"
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert not tags & {"script", "style", "foreignObject", "image", "iframe", "img"}, tags
    for tag, name, value in attributes(root):
        assert not name.lower().startswith("on") and name != "style", (tag, name)
        if name.endswith("href"):
            assert value == "/workflows/hostile/items?state=open&x=1"
        if "url(" in value:
            assert value == "url(#ef-arrow)"
    assert "<script>alert('x')</script>" in texts(root)  # shown as text, as written
    assert "<script" not in drawn and "<img" not in drawn and "<br" not in drawn


def test_every_state_is_drawn_once_with_its_count_and_link() -> None:
    definition = shipped("complaint")
    counts = {"handling": 12, "revisiting": 3}
    links = {s: f"/workflows/complaint/items?state={s}" for s in definition.states}
    root = ET.fromstring(svg(definition, counts=counts, links=links))
    titles = state_titles(root, definition)
    assert sorted(titles) == sorted({t for t in titles})
    assert len(titles) == len(definition.states)
    assert f"{definition.states['handling'].label} · 12 件；原地操作：定级（调整投诉级别） / 记录跟进" in titles
    assert f"{definition.states['archived'].label} · 0 件（结束）" in titles
    hrefs = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert sorted(hrefs) == sorted(links.values())
    assert "12" in texts(root) and root.get("font-family") == FONTS
    sizes = {float(t.get("font-size", "0")) for t in root.iter(f"{SVG}text")}
    assert min(sizes) >= 13


def test_states_are_coloured_by_their_count() -> None:
    assert shade(0, 10) == "#ffffff" == SHADES[0]
    assert shade(1, 10) == SHADES[1] and shade(10, 10) == SHADES[-1]
    assert SHADES.index(shade(4, 10)) < SHADES.index(shade(8, 10))
    definition = shipped("complaint")
    root = ET.fromstring(svg(definition, counts={"handling": 9}))
    fills = {r.get("fill") for r in root.iter(f"{SVG}rect")}
    assert SHADES[-1] in fills and "#ffffff" in fills


def test_paused_states_and_timed_steps_are_marked_and_explained(hostile: WorkflowDefinition) -> None:
    root = ET.fromstring(svg(hostile))
    dashed_paths = [p for p in root.iter(f"{SVG}path") if p.get("stroke-dasharray") and p.find(f"{SVG}title") is not None]
    assert [p.find(f"{SVG}title").text for p in dashed_paths] == [  # type: ignore[union-attr]
        f"{hostile.states['wait'].label.replace(chr(1), '')} → 完成]]><x/>：催办（定时）"]
    assert any(t.endswith("（暂停计时）") for t in state_titles(root, hostile))
    legend = texts(root)
    assert "暂停计时" in legend and "到时自动" in legend


def test_dunning_groups_its_steps_and_no_two_boxes_overlap() -> None:
    definition = shipped("dunning")
    edges = diagram_edges(definition)
    drawn = svg(definition)
    root = ET.fromstring(drawn)
    arrows = [p for p in root.iter(f"{SVG}path") if p.get("marker-end")]
    assert len(arrows) < len(definition.graph.edges()) / 2
    assert "从任意状态（19 个）" in texts(root)
    placed = layout(definition, edges)
    boxes = [*placed.boxes.values(), *placed.notes.values()]
    for a, b in itertools.combinations(boxes, 2):
        apart = a.x + a.width <= b.x or b.x + b.width <= a.x or a.y + a.height <= b.y or b.y + b.height <= a.y
        assert apart, (a.lines, b.lines)
    for box in placed.boxes.values():  # each label fits its box
        assert all(text_width(line) <= box.width for line in box.lines)
    assert placed.width <= 1200  # legible on a 1280 px page without shrinking


@pytest.mark.parametrize("workflow_id", SHIPPED_WORKFLOWS)
def test_every_shipped_workflow_draws_without_overlapping_boxes(workflow_id: str) -> None:
    definition = shipped(workflow_id)
    placed = layout(definition, diagram_edges(definition))
    boxes = [*placed.boxes.values(), *placed.notes.values()]
    assert all(a.x + a.width <= b.x or b.x + b.width <= a.x or a.y + a.height <= b.y or b.y + b.height <= a.y
               for a, b in itertools.combinations(boxes, 2))
    ET.fromstring(svg(definition))


def test_focus_draws_one_states_steps_and_dims_the_others() -> None:
    definition = shipped("dunning")
    root = ET.fromstring(svg(definition, focus="review"))
    arrows = [p.find(f"{SVG}title").text or "" for p in root.iter(f"{SVG}path") if p.get("marker-end")]  # type: ignore[union-attr]
    label = definition.states["review"].label
    assert arrows and all(label in a for a in arrows)
    dimmed = [g for g in root.iter(f"{SVG}g") if g.get("opacity")]
    assert dimmed and len(dimmed) < len(definition.states)
    assert f"只显示「{label}」的进出步骤" in texts(root)
    assert svg(definition, focus="no_such_state") == svg(definition)


def test_long_labels_wrap_on_two_lines() -> None:
    assert wrap("待处理") == ("待处理",)
    lines = wrap("送达正式催告函（民法典第944条，限期缴纳）")
    assert len(lines) == 2 and "".join(lines) == "送达正式催告函（民法典第944条，限期缴纳）"
    assert text_width("中文") == 28 and text_width("ab") == pytest.approx(16.8)


def test_graph_command_prints_the_same_svg_as_the_page_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["graph", "dunning", "--format", "svg"])
    assert result.exit_code == 0, result.output
    assert result.stdout == svg(Loader(WORKFLOWS).load(WORKFLOWS / "dunning.yaml")) + "\n"
    focused = CliRunner().invoke(main, ["graph", "dunning", "--format", "svg", "--focus", "review"])
    assert focused.stdout == svg(Loader(WORKFLOWS).load(WORKFLOWS / "dunning.yaml"), focus="review") + "\n"
    unknown = CliRunner().invoke(main, ["graph", "dunning", "--focus", "nope"])
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output
