"""Load workflow definitions: the one entry point of the YAML pipeline.

The stages, in order, each a module of its own:
1. engine/language/source.py    read YAML safely, with a position for every key and value;
2. engine/language/overlay.py   merge an estate's overlay onto the base (when an estate is given);
3. engine/language/schema.py    JSON Schema (schemas/workflow.schema.json);
4. engine/language/checks.py    meaning: references, initial state, reachability, dead ends...;
5. engine/language/compiler.py  expressions, templates, durations → the frozen WorkflowDefinition.
Every stage reports `Problem`s; all of them are collected and raised together as one
`DefinitionError`, so an administrator sees every mistake in one run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.errors import DefinitionError, Problem
from engine.language import checks, schema
from engine.language.compiler import compile_definition
from engine.language.definition import WorkflowDefinition
from engine.language.overlay import apply_overlay
from engine.language.source import SourceMap, UnreadableFile, read_text, read_yaml

DEFAULT_WORKFLOWS_DIR = Path("workflows")
ROLES_FILE = "roles.yaml"
CALENDAR_FILE = "calendar.yaml"
NOT_WORKFLOWS = frozenset({ROLES_FILE, CALENDAR_FILE})
ESTATES_DIR = "estates"
_ROLE_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Source:
    """A file read and parsed: its document (None when unreadable), positions and problems."""

    path: Path
    document: Any
    smap: SourceMap
    problems: tuple[Problem, ...]


def unreadable(path: Path | str, reason: UnreadableFile | str) -> Problem:
    """The problem of a file that cannot be read: `FILE:1:1: cannot read the file: <reason>`."""
    return Problem(str(path), 1, 1, (), f"cannot read the file: {reason}", "io")


def read_source(path: Path | str) -> Source:
    """Read (regular files only, bounded: source.read_text) and parse one YAML file; never raises for bad content."""
    path = Path(path)
    name = str(path)
    try:
        text = read_text(path)
    except UnreadableFile as error:
        return Source(path, None, SourceMap(name), (unreadable(path, error),))
    document, smap, problems = read_yaml(text, name)
    return Source(path, document, smap, tuple(problems))


def _roles_problems(source: Source) -> Iterator[Problem]:
    if not isinstance(source.document, dict):
        yield source.smap.problem((), "roles.yaml must map each role id to its Chinese label", code="roles")
        return
    for role, label in source.document.items():
        if not _ROLE_ID.match(role):
            yield source.smap.problem((role,), f"'{role}' is not a valid role id", key=True, code="roles")
        elif not isinstance(label, str) or not label:
            yield source.smap.problem((role,), "the label must be a text", code="roles")


def load_roles(workflows_dir: Path | str = DEFAULT_WORKFLOWS_DIR) -> Mapping[str, str]:
    """The role catalogue `<workflows_dir>/roles.yaml`: role id → Chinese label.

    Raises:
        DefinitionError: the catalogue is missing or malformed.
    """
    source = read_source(Path(workflows_dir) / ROLES_FILE)
    problems = [*source.problems, *_roles_problems(source)] if source.document is not None else list(source.problems)
    if problems:
        raise DefinitionError(problems)
    return MappingProxyType(dict(source.document))


def base_files(workflows_dir: Path | str) -> list[Path]:
    """The base definitions of a folder: every *.yaml at its top level but roles.yaml and calendar.yaml."""
    return sorted(p for p in Path(workflows_dir).glob("*.yaml") if p.name not in NOT_WORKFLOWS)


def overlay_files(workflows_dir: Path | str) -> list[Path]:
    """Every overlay: `<workflows_dir>/estates/<estate>/<workflow id>.yaml` (not calendar.yaml)."""
    return sorted(p for p in Path(workflows_dir).glob(f"{ESTATES_DIR}/*/*.yaml") if p.name != CALENDAR_FILE)


def calendar_files(workflows_dir: Path | str) -> list[Path]:
    """The default calendar and each estate's own, where present."""
    folder = Path(workflows_dir)
    return sorted(p for p in [folder / CALENDAR_FILE, *folder.glob(f"{ESTATES_DIR}/*/{CALENDAR_FILE}")] if p.exists())


def overlay_target(overlay_path: Path | str) -> tuple[Path, Path, str]:
    """For `<dir>/estates/<estate>/<id>.yaml`: (its definitions folder, the base file, the estate)."""
    overlay_path = Path(overlay_path)
    workflows_dir = overlay_path.parent.parent.parent
    return workflows_dir, workflows_dir / overlay_path.name, overlay_path.parent.name


def is_overlay(path: Path | str) -> bool:
    """Whether a path looks like `.../estates/<estate>/<id>.yaml`."""
    return Path(path).parent.parent.name == ESTATES_DIR


def estates_with_overlays(workflows_dir: Path | str = DEFAULT_WORKFLOWS_DIR) -> dict[str, list[str]]:
    """Estate id → the ids of the workflows it overlays."""
    result: dict[str, list[str]] = {}
    for path in overlay_files(workflows_dir):
        result.setdefault(path.parent.name, []).append(path.stem)
    return result


def _documents(workflows_dir: Path) -> dict[str, Any]:
    """The raw documents of the folder by id, for cross-workflow checks (`spawn`)."""
    documents: dict[str, Any] = {}
    for path in base_files(workflows_dir):
        source = read_source(path)
        if isinstance(source.document, dict) and isinstance(source.document.get("id"), str):
            documents[source.document["id"]] = source.document
    return documents


def _problems_of(document: Any, smap: SourceMap, roles: Mapping[str, str],
                 workflows: Mapping[str, Any] | None) -> tuple[WorkflowDefinition | None, list[Problem]]:
    schema_problems = schema.validate(document, smap)
    meaning_problems: list[Problem] = []
    if isinstance(document, dict):
        meaning_problems += checks.check(checks.Context(document, smap, roles, workflows))
    definition, compile_problems = compile_definition(document, smap, roles)
    meaning_problems += compile_problems
    # Where the schema already refused a value, a meaning problem about it only repeats it.
    refused = {p.path for p in schema_problems}
    meaning_problems = [
        p for p in meaning_problems if not any(p.path[:n] in refused for n in range(1, len(p.path) + 1))
    ]
    return definition, schema_problems + meaning_problems


def _spawns(document: Any) -> bool:
    """Whether any transition of a document spawns an item (the only cross-workflow check)."""
    transitions = document.get("transitions") if isinstance(document, dict) else None
    return any(
        isinstance(action, dict) and "spawn" in action
        for transition in (transitions if isinstance(transitions, list) else ())
        if isinstance(transition, dict) and isinstance(transition.get("actions"), list)
        for action in transition["actions"]
    )


class Loader:
    """Loads definitions against one definitions folder (its roles and sibling workflows)."""

    def __init__(self, workflows_dir: Path | str = DEFAULT_WORKFLOWS_DIR) -> None:
        self.workflows_dir = Path(workflows_dir)
        self.roles = load_roles(self.workflows_dir)
        self._documents: dict[str, Any] | None = None

    @property
    def documents(self) -> dict[str, Any]:
        """The folder's raw documents by id, read on first use: only `spawn` needs them, and
        reading every workflow would double the time `validate` takes on one file."""
        if self._documents is None:
            self._documents = _documents(self.workflows_dir)
        return self._documents

    def problems(self, path: Path | str, *, estate: str | None = None) -> list[Problem]:
        """Every problem of one file (merged with its overlay for `estate`), sorted."""
        return self._load(Path(path), estate)[1]

    def load(self, path: Path | str, *, estate: str | None = None) -> WorkflowDefinition:
        """The compiled definition of one file. Raises DefinitionError."""
        definition, problems = self._load(Path(path), estate)
        if problems or definition is None:
            raise DefinitionError(problems)
        return definition

    def _load(self, path: Path, estate: str | None) -> tuple[WorkflowDefinition | None, list[Problem]]:
        source = read_source(path)
        if source.document is None:
            return None, list(source.problems)
        document, smap, problems = source.document, source.smap, list(source.problems)
        if estate is not None:
            overlay_path = self.workflows_dir / ESTATES_DIR / estate / path.name
            if overlay_path.exists():
                overlay = read_source(overlay_path)
                if overlay.document is None:
                    return None, problems + list(overlay.problems)
                document, smap, merge_problems = apply_overlay(document, smap, overlay.document, overlay.smap)
                problems += list(overlay.problems) + merge_problems
        if path.parent.resolve() == self.workflows_dir.resolve() and isinstance(document, dict):
            if isinstance(document.get("id"), str) and document["id"] != path.stem:
                message = f"the id '{document['id']}' must match the file name '{path.name}'"
                problems.append(smap.problem(("id",), message, code="id_mismatch"))
        workflows: dict[str, Any] | None = None
        if _spawns(document):
            workflows = {**self.documents}
            if isinstance(document.get("id"), str):
                workflows[document["id"]] = document
        definition, more = _problems_of(document, smap, self.roles, workflows)
        return definition, sorted(set(problems + more))


def load_definition(path: Path | str, *, workflows_dir: Path | str | None = None,
                    estate: str | None = None) -> WorkflowDefinition:
    """Load, check and compile one workflow file (with `estate`'s overlay when given).

    Raises:
        DefinitionError: every problem found, each with file, line, column and path.
    """
    return Loader(workflows_dir or DEFAULT_WORKFLOWS_DIR).load(path, estate=estate)


def load_folder(workflows_dir: Path | str = DEFAULT_WORKFLOWS_DIR) -> dict[str, WorkflowDefinition]:
    """Every base definition of a folder by id. Raises DefinitionError with all problems."""
    loader = Loader(workflows_dir)
    definitions: dict[str, WorkflowDefinition] = {}
    problems: list[Problem] = []
    for path in base_files(workflows_dir):
        definition, found = loader._load(path, None)
        problems += found
        if definition is not None and not found:
            definitions[definition.id] = definition
    if problems:
        raise DefinitionError(problems)
    return definitions


def compile_document(document: Mapping[str, Any], *, roles: Mapping[str, str], source: str = "") -> WorkflowDefinition:
    """Compile an already-merged document (e.g. a published version read from the store).

    Raises:
        DefinitionError: the document no longer passes (e.g. a role was removed).
    """
    smap = SourceMap(source or str(document.get("id", "document")))
    definition, problems = _problems_of(dict(document), smap, roles, None)
    if problems or definition is None:
        raise DefinitionError(problems)
    return definition
