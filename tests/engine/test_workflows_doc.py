"""docs/workflows.md stays in step with the shipped workflows.

Each ```mermaid block of the page is preceded by the command that draws it,
`<!-- estateflow graph <id> [--estate <estate>] -->`, and must equal that command's output
exactly; every shipped workflow has its diagram. Also here: the legal red lines of the
domain brief — no shipped workflow, overlay, label or template suggests cutting water,
power, heat or gas, or blocking door access, lifts or parking.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.language.loader import base_files

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "workflows.md"
WORKFLOWS = ROOT / "workflows"
BLOCK = re.compile(r"<!-- estateflow graph (?P<args>[^>]+?) -->\n```mermaid\n(?P<body>.*?)```", re.S)


def _blocks() -> list[tuple[str, str]]:
    return [(m["args"], m["body"]) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def test_every_mermaid_block_is_generated() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text.count("```mermaid") == len(_blocks()), "a ```mermaid block without its '<!-- estateflow graph -->' line"


@pytest.mark.parametrize(("args", "body"), _blocks(), ids=[args for args, _ in _blocks()])
def test_diagram_equals_the_graph_output(args: str, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["graph", *args.split()])
    assert result.exit_code == 0, result.output
    assert body == result.stdout, f"docs/workflows.md is out of date: run `estateflow graph {args}` and paste it"


def test_every_shipped_workflow_is_drawn() -> None:
    drawn = {args.split()[0] for args, _ in _blocks()}
    shipped = {path.stem for path in base_files(WORKFLOWS)}
    assert shipped <= drawn, f"not in docs/workflows.md: {sorted(shipped - drawn)}"


# Civil Code Art. 944 and local rules (domain.md "Beyond the company's documents").
RED_LINES = re.compile(
    "停水|停电|停气|停暖|停热|断水|断电|断气|断暖|限水|限电|拉闸|关阀|供暖停止|停止供"
    "|锁门|封门|换锁|禁止进入|限制进出|停用门禁|门禁卡停用|禁用门禁|停梯|停用电梯|限制电梯|禁止停车|停车限制|锁车"
)


@pytest.mark.parametrize("path", sorted(WORKFLOWS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(WORKFLOWS)))
def test_no_workflow_suggests_cutting_utilities_or_blocking_access(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    found = [line.strip() for line in lines if RED_LINES.search(line)]
    assert not found, f"{path.name}: {found}"
