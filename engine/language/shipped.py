"""The files shipped inside the installed package: the JSON Schema and the starting workflows.

    SCHEMAS, WORKFLOWS      the resource packages (pyproject.toml maps schemas/ and workflows/ to them)
    shipped(package)        the folder of one, as an importlib.resources Traversable

Read with importlib.resources, so a wheel installed anywhere finds them as an editable
install of the repository does; nothing is looked up relative to this file.
"""

from __future__ import annotations

import importlib.util
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["SCHEMAS", "WORKFLOWS", "shipped"]

SCHEMAS = "estateflow.schemas"
WORKFLOWS = "estateflow.workflows"


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
