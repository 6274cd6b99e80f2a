"""The messages an administrator reads where they used to get Python's or PyYAML's (issue 12).

The corpus (tests/data/bad: expr_c_style_operators, from_star_unquoted, unknown_roles,
summary_and_when_label) pins them per file; here: `validate` run outside a site's folder, and
the unknown-role message listing the catalogue of the folder in use.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "data" / "good" / "docs_example.yaml"


def test_validate_outside_a_site_says_to_pass_the_definitions_folder(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    draft = tmp_path / "draft.yaml"
    shutil.copy(EXAMPLE, draft)
    monkeypatch.chdir(tmp_path)  # no workflows/roles.yaml here
    monkeypatch.delenv("ESTATEFLOW_WORKFLOWS", raising=False)
    result = CliRunner().invoke(main, ["validate", str(draft)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "--workflows DIR" in result.stderr
    result = CliRunner().invoke(main, ["validate", str(draft), "--workflows", str(ROOT / "workflows")])
    assert result.exit_code == 0, result.output


def test_an_unknown_role_lists_the_valid_ids_with_their_labels(tmp_path: Path) -> None:
    (tmp_path / "roles.yaml").write_text("gardener: 绿化工\nforeman: {label: 绿化主管, department: green}\n",
                                         encoding="utf-8")
    (tmp_path / "lawn.yaml").write_text(
        "id: lawn\ntitle: 草坪养护\nstates:\n  open: {label: 待处理, initial: true}\n  done: {label: 已完成, final: true}\n"
        "transitions:\n  - {name: mow, from: open, to: done, roles: [gardner]}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout == (f"{tmp_path / 'lawn.yaml'}:7:47: transitions.0.roles.0: unknown role 'gardner' "
                             "(did you mean 'gardener'?); the roles of roles.yaml are: gardener（绿化工）, "
                             "foreman（绿化主管）\n")
