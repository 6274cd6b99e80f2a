"""The files shipped inside the installed package: the JSON Schema and the starting workflows.

    SCHEMAS, WORKFLOWS      the resource packages (pyproject.toml maps schemas/ and workflows/ to them)
    shipped(package)        the folder of one, as an importlib.resources Traversable
    SHIPPED_WORKFLOWS       the ids of the product's own workflows (workflows/<id>.yaml)

Read with importlib.resources, so a wheel installed anywhere finds them as an editable
install of the repository does; nothing is looked up relative to this file.
"""

from __future__ import annotations

import importlib.util
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["SCHEMAS", "SHIPPED_WORKFLOWS", "WORKFLOWS", "shipped"]

SCHEMAS = "estateflow.schemas"
WORKFLOWS = "estateflow.workflows"
SHIPPED_WORKFLOWS = (
    "intake", "complaint", "repair", "renovation", "move_in", "dunning",
    "patrol", "quality_check", "violation", "notice", "survey", "incident",
)
"""The workflows the product ships, the one list its tests read (docs/workflows.md draws each, each has
its scenarios). A site adds its own workflows to workflows/ as the docs invite: those are the site's,
checked by `estateflow validate` and its own scenarios, never by the product's tests."""


def shipped(package: str) -> Traversable:
    """The folder of the resource package `package` (SCHEMAS or WORKFLOWS)."""
    try:
        return files(package)
    except NotADirectoryError:
        # An editable install (`make install`) on Python < 3.13: setuptools' finder gives the namespace
        # package a placeholder path entry, which importlib.resources' MultiplexedPath refuses instead of
        # skipping
        # (importlib_resources#311, fixed in Python 3.13). The real folder is the entry that is a folder.
        spec = importlib.util.find_spec(package)
        folders = [Path(entry) for entry in (spec.submodule_search_locations or []) if Path(entry).is_dir()] \
            if spec else []
        if not folders:
            raise
        return folders[0]
