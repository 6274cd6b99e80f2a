"""docs/workflows.md stays in step with the shipped workflows.

Each ```mermaid block of the page is preceded by the command that draws it,
`<!-- estateflow graph <id> [--estate <estate>] -->`, and must equal that command's output
exactly; every shipped workflow (engine.language.shipped.SHIPPED_WORKFLOWS, the product's one
list) has its diagram, and the page draws no other. A site's own workflow added to
workflows/, as the docs invite, is the site's: these checks never read it (the last test
proves it on a copy of the folder with one added). Also here: the legal red lines of the
domain brief — no shipped workflow, overlay, label or template suggests cutting water,
power, heat or gas, or blocking door access, lifts or parking.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import main
from engine.language.loader import ESTATES_DIR, base_files
from engine.language.shipped import SHIPPED_WORKFLOWS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "workflows.md"
WORKFLOWS = ROOT / "workflows"
BLOCK = re.compile(r"<!-- estateflow graph (?P<args>[^>]+?) -->\n```mermaid\n(?P<body>.*?)```", re.S)


def _blocks(text: str | None = None) -> list[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8") if text is None else text
    return [(m["args"], m["body"]) for m in BLOCK.finditer(text)]


def drawn(text: str) -> set[str]:
    """The workflow ids the page draws."""
    return {args.split()[0] for args, _ in _blocks(text)}


def shipped_files(folder: Path) -> list[Path]:
    """The product's files in a definitions folder: its shipped workflows, their estates' overlays,
    and the files that are not workflows (roles, calendar, messages); never a site's own workflow."""
    bases = {path.stem: path for path in base_files(folder)}
    others = sorted(p for p in folder.glob("*.yaml") if p.stem not in bases)
    overlays = sorted(p for p in (folder / ESTATES_DIR).rglob("*.yaml")
                      if p.stem in SHIPPED_WORKFLOWS or p.name.startswith("_") or p.stem == "calendar")
    return [*(bases[i] for i in SHIPPED_WORKFLOWS if i in bases), *others, *overlays]


def test_every_mermaid_block_is_generated() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text.count("```mermaid") == len(_blocks()), "a ```mermaid block without its '<!-- estateflow graph -->' line"


@pytest.mark.parametrize(("args", "body"), _blocks(), ids=[args for args, _ in _blocks()])
def test_diagram_equals_the_graph_output(args: str, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["graph", *args.split()])
    assert result.exit_code == 0, result.output
    assert body == result.stdout, f"docs/workflows.md is out of date: run `estateflow graph {args}` and paste it"


def test_the_shipped_list_names_each_workflow_once_and_each_file_exists() -> None:
    assert len(set(SHIPPED_WORKFLOWS)) == len(SHIPPED_WORKFLOWS)
    missing = [i for i in SHIPPED_WORKFLOWS if not (WORKFLOWS / f"{i}.yaml").is_file()]
    assert not missing, f"in SHIPPED_WORKFLOWS but not in workflows/: {missing}"


def test_the_page_draws_exactly_the_shipped_workflows() -> None:
    assert drawn(DOC.read_text(encoding="utf-8")) == set(SHIPPED_WORKFLOWS)


# Civil Code Art. 944 and local rules (domain.md "Beyond the company's documents").
RED_LINES = re.compile(
    "停水|停电|停气|停暖|停热|断水|断电|断气|断暖|限水|限电|拉闸|关阀|供暖停止|停止供"
    "|锁门|封门|换锁|禁止进入|限制进出|停用门禁|门禁卡停用|禁用门禁|停梯|停用电梯|限制电梯|禁止停车|停车限制|锁车"
)


def red_lines(path: Path) -> list[str]:
    """The lines of a file (comments aside) that suggest cutting a utility or blocking access."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    return [line.strip() for line in lines if RED_LINES.search(line)]


@pytest.mark.parametrize("path", shipped_files(WORKFLOWS), ids=lambda p: str(p.relative_to(WORKFLOWS)))
def test_no_workflow_suggests_cutting_utilities_or_blocking_access(path: Path) -> None:
    found = red_lines(path)
    assert not found, f"{path.name}: {found}"


SITE_WORKFLOW = """\
# A site's own workflow, added to workflows/ as docs/workflow-language.md invites.
id: greening
title: 绿化养护
fields:
  area: {type: string, label: 养护区域, required: true}
  note: {type: text, label: 养护记录}
states:
  open: {label: 待养护, initial: true}
  done: {label: 已完成, final: true}
transitions:
  - {name: finish, label: 完成养护, from: open, to: done, roles: [housekeeper], require: [note]}
"""


def test_a_sites_own_workflow_does_not_fail_the_products_checks(tmp_path: Path) -> None:
    site = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, site)
    (site / "greening.yaml").write_text(SITE_WORKFLOW, encoding="utf-8")
    # The folder is valid as the site has it, and the site's workflow draws.
    result = CliRunner().invoke(main, ["validate", str(site)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["graph", "greening", "--workflows", str(site)])
    assert result.exit_code == 0 and "完成养护" in result.stdout
    # The page need not draw it, and the checks over the product's files never read it.
    assert "greening" not in drawn(DOC.read_text(encoding="utf-8"))
    files = shipped_files(site)
    assert site / "greening.yaml" not in files
    assert {p.name for p in files} == {p.name for p in shipped_files(WORKFLOWS)}
