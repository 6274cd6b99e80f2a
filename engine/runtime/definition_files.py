"""The definitions folder as the database holds it: every published file's text, numbered per path.

    valid_path(path)                      whether `path` is a place of the definitions tree
    folder_files(folder)                  {path: text} of every .yaml file of a folder on disk
    current_files(session)                the newest text of every path (removed files left out)
    store_files(session, files, ...)      a new version of each changed path (complete: the others removed)
    materialize(session, folder, ...)     the current files, with edits, written under a folder

`estateflow publish` and the browser both end in `store_files` (through publish_files,
engine/cli/publishing.py: it needs the reports, a layer above this one), so web and worker
processes on every host read calendars and the editor's texts from these rows, never from disk.
Paths are POSIX paths relative to the folder (`complaint.yaml`, `estates/plaza/complaint.yaml`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, DefinitionError
from engine.language.loader import SCENARIOS_DIR, unreadable
from engine.language.source import UnreadableFile, read_text
from engine.store.models import DefinitionFile

__all__ = [
    "CurrentFile", "StoredFile", "current_files", "folder_files", "materialize", "newest_files", "store_files",
    "text_hash", "valid_path",
]

log = logging.getLogger("estateflow.publish")

_SEGMENT = r"[a-z0-9_][a-z0-9_-]{0,63}"
_FILE = rf"{_SEGMENT}\.yaml"
# The places of the tree (docs/authoring.md): top-level files (workflows, roles, calendar, messages),
# named calendars, reports, an estate's files (overlays, _routing, _messages, calendar), its named
# calendars and reports, and the shipped scenarios of each workflow.
_PLACES = re.compile(
    rf"{_FILE}|calendars/{_FILE}|reports/{_FILE}|estates/{_SEGMENT}/{_FILE}"
    rf"|estates/{_SEGMENT}/(?:calendars|reports)/{_FILE}|scenarios/{_SEGMENT}/{_FILE}"
)
MAX_PATH = 200  # DefinitionFile.path's column


def valid_path(path: str) -> bool:
    """Whether `path` names a file the definitions tree knows: relative, lower-case `[a-z0-9_-]` segments,
    `.yaml`, no `..`, in one of its places (e.g. `estates/<estate>/calendars/<name>.yaml`)."""
    return isinstance(path, str) and len(path) <= MAX_PATH and _PLACES.fullmatch(path) is not None


def text_hash(text: str) -> str:
    """SHA-256 of a file's UTF-8 text: equal text, equal hash."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def folder_files(folder: Path | str) -> dict[str, str]:
    """Every .yaml file of a definitions folder as {path: text}, roles.yaml and scenarios/ included.

    Regular files only: a link (say, to /dev/zero), a FIFO or a device is skipped without being
    opened, and so are hidden entries and files outside the tree's places (logged).

    Raises:
        DefinitionError: a file cannot be read (too large, not UTF-8): nothing of the folder is stored.
    """
    root = Path(folder)
    found: dict[str, str] = {}
    problems = []
    for directory, subdirs, names in os.walk(root):  # never descends into a linked folder
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            full = Path(directory, name)
            path = full.relative_to(root).as_posix()
            if name.startswith(".") or not name.endswith(".yaml"):
                continue
            if not stat.S_ISREG(full.lstat().st_mode):
                log.warning("%s is not a regular file: not published", path)
                continue
            if not valid_path(path):
                log.warning("%s is no place of the definitions tree: not published", path)
                continue
            try:
                found[path] = read_text(full)
            except UnreadableFile as error:
                problems.append(unreadable(full, error))
    if problems:
        raise DefinitionError(problems)
    return found


@dataclass(frozen=True, slots=True)
class CurrentFile:
    """The newest published text of one path."""

    path: str
    version: int
    text: str
    content_hash: str
    published_at: datetime
    published_by: str | None
    comment: str | None


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A new version `store_files` wrote: `removed` when it marks the file gone, `added` when it is the
    path's first text (or its first since it was removed)."""

    path: str
    version: int
    content_hash: str
    added: bool
    removed: bool


def newest_files(session: Session, where: ColumnElement[bool] | None = None) -> list[DefinitionFile]:
    """The newest version of every path (removed ones included, `text` None), in one query; `where`
    narrows the paths (e.g. the calendar files)."""
    newest = select(DefinitionFile.path, func.max(DefinitionFile.version).label("version"))
    if where is not None:
        newest = newest.where(where)
    latest = newest.group_by(DefinitionFile.path).subquery()
    rows = session.scalars(
        select(DefinitionFile).join(latest, (DefinitionFile.path == latest.c.path)
                                    & (DefinitionFile.version == latest.c.version))
        .order_by(DefinitionFile.path)
    )
    return list(rows)


def current_files(session: Session) -> dict[str, CurrentFile]:
    """The newest text of every published path, removed files left out."""
    return {row.path: CurrentFile(row.path, row.version, row.text, row.content_hash, row.published_at,
                                  row.published_by, row.comment)
            for row in newest_files(session) if row.text is not None}


def store_files(session: Session, files: Mapping[str, str], *, by: str | None, comment: str | None,
                now: datetime, complete: bool = True) -> list[StoredFile]:
    """Store a new version of each path of `files` whose text differs from its newest one.

    `complete`: `files` is the whole tree, so a published path missing from it is marked removed
    (a version with no text); otherwise only the paths given are touched.

    Raises:
        ValueError: a path is no place of the definitions tree (valid_path).
        Conflict: someone stored the same path at the same moment.
    """
    wrong = sorted(path for path in files if not valid_path(path))
    if wrong:
        raise ValueError(f"not a path of the definitions tree: {', '.join(wrong)}")
    latest = {row.path: row for row in newest_files(session)}
    changes: list[tuple[str, str | None]] = [(path, text) for path, text in sorted(files.items())
                                             if path not in latest or latest[path].text != text]
    if complete:
        changes += [(path, None) for path, row in sorted(latest.items()) if path not in files and row.text is not None]
    rows = [DefinitionFile(path=path, version=latest[path].version + 1 if path in latest else 1,
                           content_hash=text_hash(text) if text is not None else "", text=text,
                           published_at=now, published_by=by, comment=comment)
            for path, text in changes]
    try:
        with session.begin_nested():
            session.add_all(rows)
    except IntegrityError:
        raise Conflict(None, None, "the definitions were published by someone else meanwhile") from None
    return [StoredFile(row.path, row.version, row.content_hash,
                       added=row.text is not None and (row.path not in latest or latest[row.path].text is None),
                       removed=row.text is None)
            for row in rows]


def materialize(session: Session, folder: Path | str, *, replace: Mapping[str, str | None] | None = None,
                scenarios: bool = True) -> Path:
    """Write the current files under `folder` (created if missing), with `replace` applied: a text
    replaces or adds a path, None leaves it out. Returns the folder. `scenarios=False` leaves out
    scenarios/ (most of the tree's files): checking a definition reads none of them.

    Every path is checked (valid_path) and written only inside `folder`, never through a link.

    Raises:
        ValueError: a path of `replace` is no place of the definitions tree.
    """
    edits = dict(replace or {})
    wrong = sorted(path for path in edits if not valid_path(path))
    if wrong:
        raise ValueError(f"not a path of the definitions tree: {', '.join(wrong)}")
    texts: dict[str, str | None] = {path: current.text for path, current in current_files(session).items()}
    texts.update(edits)
    if not scenarios:
        texts = {path: text for path, text in texts.items() if not path.startswith(f"{SCENARIOS_DIR}/")}
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    _write(root, ((path, text) for path, text in sorted(texts.items()) if text is not None))
    return root


def _write(root: Path, files: Iterable[tuple[str, str]]) -> None:
    top = root.resolve()
    for path, text in files:
        if not valid_path(path):  # a row written by hand into the table: never let it leave the folder
            log.warning("definition file %r is no place of the definitions tree: not written", path)
            continue
        target = root.joinpath(*path.split("/"))
        if not target.parent.resolve().is_relative_to(top):  # a linked folder inside `root`: checked before mkdir
            raise ValueError(f"{path} would be written outside {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o644)
        with os.fdopen(fd, "wb") as file:
            file.write(text.encode("utf-8"))
