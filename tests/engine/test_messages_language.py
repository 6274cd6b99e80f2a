"""The resident message templates as administrators write them: messages.yaml, an estate's _messages.yaml,
and what `estateflow validate` says about them and about the workflows that use them."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from engine.cli.main import main
from engine.language.loader import Loader
from engine.language.messages import Catalogue, merge

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = """
id: visit
title: 上门服务
fields:
  phone: {type: phone, label: 联系电话, personal: true}
  fee: {type: decimal, label: 费用}
states:
  open: {label: 新建, initial: true}
  done: {label: 已完成, final: true}
transitions:
  - name: finish
    label: 完成
    from: open
    to: done
    roles: [frontdesk]
    actions:
      - notify: {resident: phone, template: billed}
"""


def folder_with(tmp_path: Path, messages: str, estate_messages: str | None = None) -> Path:
    folder = tmp_path / "defs"
    folder.mkdir()
    shutil.copy(ROOT / "workflows" / "roles.yaml", folder / "roles.yaml")
    (folder / "visit.yaml").write_text(WORKFLOW, encoding="utf-8")
    (folder / "messages.yaml").write_text(messages, encoding="utf-8")
    if estate_messages is not None:
        (folder / "estates" / "east").mkdir(parents=True)
        (folder / "estates" / "east" / "_messages.yaml").write_text(estate_messages, encoding="utf-8")
    return folder


def test_validate_reports_a_broken_messages_file_and_accepts_a_partial_estate_file(tmp_path):
    folder = folder_with(tmp_path, "templates:\n  billed: {text: '费用{fee!r}'}\n  odd: {label: 怪, texte: x}\n",
                         "templates:\n  billed: {label: 账单}\n")
    result = CliRunner().invoke(main, ["validate", str(folder), "--workflows", str(folder)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any("messages.yaml:2:" in line and "templates.billed: a template needs label" in line for line in lines)
    assert any("templates.billed.text" in line and "not allowed" in line for line in lines)
    assert any("templates.odd.texte" in line for line in lines)
    assert not any("_messages.yaml" in line for line in lines)  # an estate's file may change one key


def test_a_clean_folder_with_templates_validates(tmp_path):
    folder = folder_with(tmp_path, "templates:\n  billed: {label: 账单通知, text: '本次费用{fee}元，单号{number}'}\n")
    result = CliRunner().invoke(main, ["validate", str(folder), "--workflows", str(folder)])
    assert result.exit_code == 0, result.output


def test_a_workflow_without_a_messages_file_is_told_to_add_one(tmp_path):
    folder = folder_with(tmp_path, "")
    (folder / "messages.yaml").unlink()
    [problem] = Loader(folder).problems(folder / "visit.yaml")
    assert problem.dotted_path == "transitions.0.actions.0.notify.template"
    assert "template 'billed' is not defined: there is no messages.yaml" in problem.message


def test_an_estates_file_is_merged_by_key_and_a_field_wins_over_a_variable(tmp_path):
    base = {"variables": {"company": "物业", "fee": "变量"},
            "templates": {"billed": {"label": "账单", "text": "【{company}】{fee}", "consent": "required"}}}
    merged = merge(base, {"variables": {"company": "东区物业"}, "templates": {"billed": {"label": "东区账单"}}})
    catalogue = Catalogue.of(merged)
    template = catalogue.templates["billed"]
    assert (template.label, template.needs_consent) == ("东区账单", True)
    assert catalogue.render("billed", {"fee": "12.00"}) == "【东区物业】12.00"
    assert Catalogue.of(base).render("billed", {}) == "【物业】变量"
