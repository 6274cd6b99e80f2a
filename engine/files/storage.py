"""Where attached files' bytes live: one small interface, a folder today.

    FileStore               put / open / delete / exists / keys: what the rest of the engine asks of a store
    FolderStore(root)       the store in a directory (ESTATEFLOW_FILES_DIR, default instance/files)
    configured()            the store the environment names (read at each call: tests and sites set it)
    new_key(extension)      a fresh random key such as 'a3/a3f0…9c.jpg'

Keys are made here, never from a client's file name, and always match KEY: a key read
from the database or the folder cannot reach outside the root. An S3-compatible store
implements the same five methods on a bucket; nothing else changes.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

__all__ = ["DEFAULT_DIR", "FileStore", "FolderStore", "KEY", "configured", "new_key"]

DEFAULT_DIR = "instance/files"
"""Next to the default SQLite database (instance/estateflow.db), relative to the site folder."""
KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}(-thumb)?\.[a-z0-9]{1,8}$")
_PARTIAL = ".partial-"


class FileStore(Protocol):
    """The five operations the engine needs of a file store."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (a new key: keys are never reused)."""

    def open(self, key: str) -> BinaryIO:
        """The stored bytes, for reading; FileNotFoundError when there are none."""

    def delete(self, key: str) -> None:
        """Remove `key`; nothing happens when it is not there."""

    def exists(self, key: str) -> bool:
        """Whether `key` holds a file."""

    def keys(self) -> Iterator[str]:
        """Every stored key, in no particular order."""


def new_key(extension: str, *, thumbnail_of: str | None = None) -> str:
    """A fresh random key for a file of `extension` ('jpg'), or the thumbnail key of an existing key."""
    if thumbnail_of is not None:
        stem = thumbnail_of.rsplit(".", 1)[0]
        key = f"{stem}-thumb.{extension}"
    else:
        name = uuid.uuid4().hex
        key = f"{name[:2]}/{name}.{extension}"
    assert KEY.match(key), key
    return key


class FolderStore:
    """Files under one directory: `root/ab/ab….jpg`, written to a partial file and renamed into place."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"FolderStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        if not KEY.match(key):  # a key from a row edited by hand must not name ../../etc/passwd
            raise ValueError(f"not a file key: {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{_PARTIAL}{path.name}")
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())  # on disk before the row that names it can commit
        os.replace(partial, path)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for shard in sorted(self.root.iterdir()):
            if not shard.is_dir():
                continue
            for path in sorted(shard.iterdir()):
                key = f"{shard.name}/{path.name}"
                if path.is_file() and KEY.match(key):
                    yield key


def configured() -> FolderStore:
    """The store of ESTATEFLOW_FILES_DIR (default instance/files, relative to the working directory)."""
    return FolderStore(os.environ.get("ESTATEFLOW_FILES_DIR") or DEFAULT_DIR)
