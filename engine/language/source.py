"""Read YAML safely, remembering where every key and value came from.

Takes a file's text; returns the plain document (dicts, lists, scalars) and a
`SourceMap` from YAML paths to (line, column), or the `Problem`s that stopped it.

PyYAML's defaults are wrong for administrators' files in three ways, fixed here:
- YAML 1.1 turns `on`, `off`, `yes`, `no`, `y`, `n` into booleans, which would mangle an
  option id `no` or a state `on`; only `true` and `false` are booleans here.
- A duplicated key silently keeps the last value; here it is a problem at its line.
- Aliases can expand exponentially ("billion laughs"); the composed node graph stays
  small, so we count the expanded size while constructing and refuse past a bound.

Files are read by `read_text`: regular files only, the size checked before reading and the
read itself bounded, so a path to /dev/zero or a FIFO is refused at once, never read.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.errors import Path, Problem

MAX_NODES = 100_000
"""Bound on the expanded size of a document (aliases counted at every use)."""
MAX_DEPTH = 64
"""Bound on nesting: PyYAML composes recursively and slows to a crawl long before it fails."""
MAX_FILE_BYTES = 1_000_000
"""Bound on a file's size: a definition is never near it."""


class UnreadableFile(Exception):
    """A file `read_text` refuses; the message is the reason, in words for the administrator."""


def read_text(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of the regular file `path`, at most `limit` bytes.

    Checks before reading: stat first (a device, a FIFO or a folder is refused without being
    opened, and so is a file too large), then opens without blocking (a file swapped for a
    FIFO meanwhile cannot hang the open), checks the opened file again, and reads at most
    `limit` + 1 bytes.

    Raises:
        UnreadableFile: missing, not a regular file, too large, or not UTF-8.
    """
    too_large = f"the file is larger than {limit // 1000} kB"
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            raise UnreadableFile("not a regular file")
        if status.st_size > limit:
            raise UnreadableFile(too_large)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise UnreadableFile("not a regular file")
            raw = file.read(limit + 1)  # the file may have grown since the stat
    except OSError as error:
        raise UnreadableFile(error.strerror or type(error).__name__) from error
    if len(raw) > limit:
        raise UnreadableFile(too_large)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableFile("the file is not UTF-8 text") from None


class _TooLarge(Exception):
    def __init__(self, mark: yaml.Mark | None) -> None:
        self.mark = mark


Position = tuple[str, int, int]
"""(file, line, column); line and column 1-based."""


@dataclass
class SourceMap:
    """Where each path of a document was written: `path → (file, line, column)`.

    `keys` holds the position of a mapping key itself, `values` that of its value (list
    items and the document root have only `values`). The file is kept per path because an
    estate overlay merged into a base definition mixes lines of two files.
    """

    file: str
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> Position:
        """The nearest known position of `path`, walking up to its parents if needed."""
        probe = tuple(path)
        while True:
            if key and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return (self.file, 1, 1)
            probe = probe[:-1]

    def problem(self, path: Path, message: str, *, key: bool = False, code: str = "invalid") -> Problem:
        """A Problem located at `path` (at the key rather than the value when `key`)."""
        file, line, column = self.position(path, key=key)
        return Problem(file, line, column, tuple(path), message, code)

    def copy_subtree(self, other: SourceMap, src: Path, dst: Path) -> None:
        """Take the positions of `other` under `src` as ours under `dst`."""
        size = len(src)
        for mine, theirs in ((self.values, other.values), (self.keys, other.keys)):
            for path, position in theirs.items():
                if path[:size] == src:
                    mine[(*dst, *path[size:])] = position


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 booleans, without duplicate keys, with a size bound."""


_DROPPED_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
# Keep every implicit resolver except bool, then add a strict one for true/false only.
# Timestamps stay strings too: the schema speaks JSON, and dates are parsed where used.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# Numbers as YAML 1.2 writes them. YAML 1.1 reads a unit number `0101` as octal 65 and `1:30`
# as 90 (base 60); here a leading zero or a colon keeps the text as it was written.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:(?:0|[1-9][0-9]*)\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)


class _FastLoader(getattr(yaml, "CSafeLoader", _Loader)):  # type: ignore[misc]
    """The same reading through libyaml's parser (PyYAML's own scanner is about ten times slower).

    The nodes carry the same line and column marks, and the resolvers above are shared, so a
    document reads the same either way. libyaml words its syntax errors differently, so a text it
    refuses is read again by _Loader: the message is PyYAML's, as it always was. Without libyaml
    (a PyYAML built without it) this is _Loader itself."""


_FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def _position(node: yaml.Node, file: str) -> Position:
    return file, node.start_mark.line + 1, node.start_mark.column + 1


def _build(
    node: yaml.Node, loader: _Loader | _FastLoader, path: Path, smap: SourceMap, problems: list[Problem],
    budget: list[int],
) -> Any:
    """Construct `node` into plain data, recording positions, duplicates and size."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge(node.start_mark)
    smap.values.setdefault(path, _position(node, smap.file))
    if isinstance(node, yaml.MappingNode):
        explicit = {id(key_node) for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge"}
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys; merged pairs come first
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (dict, list)):
                problems.append(Problem(*_position(key_node, smap.file), path, "a key must be a plain name", "yaml"))
                continue
            # Keys like `1`, `true` or `null` reach the schema as strings, as JSON would have them.
            if not isinstance(key, str):
                key = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
            child = (*path, key)
            merged_before = key in result and child not in smap.keys
            if key in result and not merged_before and id(key_node) in explicit:
                first_line = smap.keys[child][1]
                message = f"duplicate key '{key}' (first given on line {first_line})"
                problems.append(Problem(*_position(key_node, smap.file), child, message, "duplicate_key"))
                continue
            if id(key_node) in explicit:
                smap.keys[child] = _position(key_node, smap.file)
                smap.values.pop(child, None)  # an explicit key overrides a merged one
            result[key] = _build(value_node, loader, child, smap, problems, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, loader, (*path, index), smap, problems, budget)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where flow brackets or indentation nest deeper than MAX_DEPTH, found before parsing."""
    depth, quote = 0, ""
    for line_number, line in enumerate(text.splitlines(), 1):
        if not quote and len(line) - len(line.lstrip(" ")) > 2 * MAX_DEPTH:
            return line_number, 1
        for column, char in enumerate(line, 1):
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "#":
                break
            elif char in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return line_number, column
            elif char in "]}":
                depth = max(0, depth - 1)
    return None


_ALIAS = "while scanning an alias"
_UNQUOTED_STAR = ("an unquoted * starts a YAML alias (*name); to mean every state, quote it: "
                  'from: "*"')


def _problem_from_yaml_error(file: str, error: yaml.YAMLError) -> Problem:
    if getattr(error, "context", None) == _ALIAS and getattr(error, "context_mark", None) is not None:
        # `from: *` is the language's "every state", but YAML reads a bare * as an alias: say so
        # at the star, instead of PyYAML's "expected alphabetic or numeric character".
        star = error.context_mark  # type: ignore[attr-defined]
        return Problem(file, star.line + 1, star.column + 1, (), f"YAML syntax error: {_UNQUOTED_STAR}", "yaml")
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    text = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"YAML syntax error: {context}, {text}" if context else f"YAML syntax error: {text}"
    if text.startswith("found undefined alias"):
        message += ' (a value starting with * is an alias: quote it, as in from: "*")'
    if "\t" in text or "'\\t'" in text:
        message += " (YAML does not allow tabs for indentation; use spaces)"
    return Problem(file, line, column, (), message, "yaml")


def read_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse one YAML document.

    Returns:
        (document, source map, problems). When the text cannot be parsed at all the
        document is None and problems holds the syntax error at the parser's mark.
    """
    smap = SourceMap(file)
    problems: list[Problem] = []
    too_deep = _too_deep(text)
    if too_deep:
        message = f"the document is nested more than {MAX_DEPTH} levels deep"
        return None, smap, [Problem(file, *too_deep, (), message, "too_deep")]
    loader: _Loader | _FastLoader = _FastLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError:
            loader.dispose()
            loader = _Loader(text)  # PyYAML's own words for the error (see _FastLoader)
            root = loader.get_single_node()
        if root is None:
            return None, smap, [Problem(file, 1, 1, (), "the file is empty", "yaml")]
        document = _build(root, loader, (), smap, problems, [MAX_NODES])
        if document is None:
            message = "the document is empty (null): a mapping of keys is expected"
            return None, smap, [Problem(*_position(root, file), (), message, "yaml")]
    except _TooLarge as too_large:
        mark = too_large.mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"the document expands to more than {MAX_NODES} values (are aliases nested?)"
        return None, smap, [Problem(file, line, column, (), message, "too_large")]
    except yaml.YAMLError as error:
        return None, smap, [_problem_from_yaml_error(file, error)]
    except RecursionError:
        message = f"the document is nested more than {MAX_DEPTH} levels deep"
        return None, smap, [Problem(file, 1, 1, (), message, "too_deep")]
    except (ValueError, OverflowError) as error:
        # PyYAML raises these for absurd nesting or numbers such as a 10,000-digit date.
        return None, smap, [Problem(file, 1, 1, (), f"cannot read this YAML: {type(error).__name__}", "yaml")]
    finally:
        loader.dispose()
    return document, smap, problems


def walk(document: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) of a plain document, depth first."""
    yield path, document
    if isinstance(document, dict):
        for key, value in document.items():
            yield from walk(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from walk(value, (*path, index))
