"""pyproject.toml lists every package (it lists them rather than finding them, to map schemas/ and workflows/),
and the shipped resources are read through importlib.resources in the editable install too."""

from __future__ import annotations

import tomllib
from pathlib import Path

from engine.language.shipped import SCHEMAS, WORKFLOWS, shipped

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_with_an_init_file_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for top in ("engine", "web") for init in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_the_schema_and_the_shipped_workflows_are_the_repository_folders() -> None:
    schema = shipped(SCHEMAS).joinpath("workflow.schema.json")
    assert schema.read_bytes() == (ROOT / "schemas" / "workflow.schema.json").read_bytes()
    names = {entry.name for entry in shipped(WORKFLOWS).iterdir()}
    assert {"roles.yaml", "complaint.yaml", "calendar.yaml", "estates"} <= names
