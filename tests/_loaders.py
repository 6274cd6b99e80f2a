"""One Loader per definitions folder for the whole test session: each file is read and compiled once."""

from __future__ import annotations

import functools
from pathlib import Path

from engine.language.loader import Loader


@functools.cache
def loader_of(folder: Path) -> Loader:
    """The session's Loader of `folder` (publish_folder(..., loader=loader_of(folder)))."""
    return Loader(folder)
