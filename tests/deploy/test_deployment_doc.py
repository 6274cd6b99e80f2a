"""docs/deployment.md lists every setting of engine/settings.py, and its samples exist.

Run this file with Python to rewrite the settings table after adding a setting:
    .venv/bin/python tests/deploy/test_deployment_doc.py
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deployment.md"
TABLE = re.compile(r"(<!-- settings:start -->\n)(.*?)(<!-- settings:end -->)", re.S)


def settings_table() -> str:
    """The Markdown table of SETTINGS, as the document shows it."""
    lines = ["| setting | default | what it does |", "|---|---|---|"]
    for setting in SETTINGS:
        default = f"`{setting.default}`" if setting.default else "(none)"
        lines.append(f"| `{setting.name}` | {default} | {setting.help} |")
    return "\n".join(lines) + "\n"


def test_the_settings_table_is_the_one_engine_settings_gives() -> None:
    match = TABLE.search(DOC.read_text(encoding="utf-8"))
    assert match, "docs/deployment.md lost its <!-- settings:start --> ... <!-- settings:end --> markers"
    assert match.group(2) == settings_table(), "run: .venv/bin/python tests/deploy/test_deployment_doc.py"


def test_the_samples_the_document_links_to_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    for link in re.findall(r"\]\((deployment/[^)]+)\)", text):
        assert (DOC.parent / link).exists(), link
    for sample in ("nginx.conf", "estateflow-web.service", "estateflow-worker.service"):
        assert f"deployment/{sample}" in text


def test_the_units_run_the_commands_in_the_site_folder() -> None:
    for unit, command in (("estateflow-web.service", "serve"), ("estateflow-worker.service", "worker")):
        text = (DOC.parent / "deployment" / unit).read_text(encoding="utf-8")
        assert re.search(rf"^ExecStart=\S+/estateflow {command}$", text, re.M)
        assert re.search(r"^WorkingDirectory=\S+/site$", text, re.M)  # where ./estateflow.env is read


if __name__ == "__main__":
    text = DOC.read_text(encoding="utf-8")
    DOC.write_text(TABLE.sub(lambda m: m.group(1) + settings_table() + m.group(3), text), encoding="utf-8")
    print(f"{DOC}: settings table rewritten")
