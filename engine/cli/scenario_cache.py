"""What the scenario runner keeps between scenarios: a migrated template database and the
compiled definitions, so that each scenario file costs a file copy, not a migration and a compile.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine.language.definition import WorkflowDefinition
from engine.language.loader import Loader
from engine.store.migrate import upgrade

__all__ = ["TemplateDatabase", "cached_load", "cached_loader"]


class TemplateDatabase:
    """A SQLite database migrated once; each scenario gets a copy."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="estateflow-scenarios-"))
        self.path = self.folder / "template.db"
        upgrade(f"sqlite:///{self.path}")
        self.count = 0

    def copy(self) -> Path:
        """A fresh copy of the migrated database, for one scenario."""
        self.count += 1
        target = self.folder / f"scenario-{self.count}.db"
        shutil.copyfile(self.path, target)
        return target

    def remove(self) -> None:
        """Delete the template and every copy left."""
        shutil.rmtree(self.folder, ignore_errors=True)


# Loaders and compiled definitions outlive one run (a test runs each scenario file on its own),
# each kept while the files it was read from are unchanged.
_LOADERS: dict[Path, tuple[tuple[Any, ...], Loader]] = {}
_DEFINITIONS: dict[tuple[Any, ...], WorkflowDefinition] = {}


def _stamp(*paths: Path) -> tuple[Any, ...]:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths if p.exists())


def _folder_stamp(folder: Path) -> tuple[Any, ...]:
    return _stamp(*sorted([*folder.glob("*.yaml"), *folder.glob("estates/*/*.yaml")]))


def cached_loader(folder: Path) -> Loader:
    """The Loader of a definitions folder, read again only when one of its files changed."""
    key = Path(folder).resolve()
    stamp = _folder_stamp(key)
    hit = _LOADERS.get(key)
    if hit is None or hit[0] != stamp:
        hit = _LOADERS[key] = (stamp, Loader(folder))
    return hit[1]


def cached_load(loader: Loader, path: Path, estate: str) -> WorkflowDefinition:
    """A compiled definition (with `estate`'s overlay), compiled again only when its files changed."""
    folder = loader.workflows_dir.resolve()
    key = (_LOADERS[folder][0] if folder in _LOADERS else None, _stamp(Path(path).resolve()), estate)
    if key not in _DEFINITIONS:
        _DEFINITIONS[key] = loader.load(path, estate=estate)
    return _DEFINITIONS[key]
