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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import DefinitionError, Problem
from engine.language import checks, messages, roles, routing, schema
from engine.language.calendar import named_calendar_problems
from engine.language.compiler import compile_definition
from engine.language.definition import WorkflowDefinition
from engine.language.overlay import apply_overlay
from engine.language.roles import Catalogue
from engine.language.routing import RoutingTable
from engine.language.source import SourceMap, UnreadableFile, read_text, read_yaml

DEFAULT_WORKFLOWS_DIR = Path("workflows")
ROLES_FILE = "roles.yaml"
CALENDAR_FILE = "calendar.yaml"
CALENDARS_DIR = "calendars"
"""Named calendars a workflow chooses with `calendar: <name>`: `calendars/<name>.yaml`, and an estate's own
`estates/<estate>/calendars/<name>.yaml` (engine/runtime/calendars.py Calendars)."""
ROUTING_FILE = "_routing.yaml"
MESSAGES_FILE = messages.MESSAGES_FILE  # the resident message templates (engine/language/messages.py)
NOT_WORKFLOWS = frozenset({ROLES_FILE, CALENDAR_FILE, MESSAGES_FILE})
ESTATES_DIR = "estates"
SCENARIOS_DIR = "scenarios"
"""`scenarios/<workflow>/*.yaml`: the scenarios that try a workflow (engine/cli/trying.py); not definitions."""


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


def load_catalogue(workflows_dir: Path | str = DEFAULT_WORKFLOWS_DIR) -> Catalogue:
    """The role catalogue `<workflows_dir>/roles.yaml`: labels, executors' departments, the file's shape.

    Raises:
        DefinitionError: the catalogue is missing or malformed.
    """
    source = read_source(Path(workflows_dir) / ROLES_FILE)
    found = list(source.problems)
    if source.document is not None:
        found += roles.problems(source.document, source.smap)
    if found:
        raise DefinitionError(found)
    return Catalogue.of(source.document)


def load_roles(workflows_dir: Path | str = DEFAULT_WORKFLOWS_DIR) -> Mapping[str, str]:
    """The role catalogue `<workflows_dir>/roles.yaml`: role id → Chinese label. Raises DefinitionError."""
    return load_catalogue(workflows_dir).labels


def load_departments(workflows_dir: Path | str = DEFAULT_WORKFLOWS_DIR) -> Mapping[str, str]:
    """Executor role id → the department it works for (roles.yaml). Raises DefinitionError."""
    return load_catalogue(workflows_dir).departments


def base_files(workflows_dir: Path | str) -> list[Path]:
    """The base definitions of a folder: every *.yaml at its top level but roles.yaml and calendar.yaml."""
    return sorted(p for p in Path(workflows_dir).glob("*.yaml") if p.name not in NOT_WORKFLOWS)


def overlay_files(workflows_dir: Path | str) -> list[Path]:
    """Every overlay: `<workflows_dir>/estates/<estate>/<workflow id>.yaml` (not calendar.yaml, nor a
    name starting with `_`: those are the estate's other files, such as _routing.yaml)."""
    return sorted(p for p in Path(workflows_dir).glob(f"{ESTATES_DIR}/*/*.yaml")
                  if p.name != CALENDAR_FILE and not p.name.startswith("_"))


def routing_files(workflows_dir: Path | str) -> list[Path]:
    """Each estate's routing table `<workflows_dir>/estates/<estate>/_routing.yaml`, where present."""
    return sorted(Path(workflows_dir).glob(f"{ESTATES_DIR}/*/{ROUTING_FILE}"))


def message_files(workflows_dir: Path | str) -> list[Path]:
    """The resident message templates `<dir>/messages.yaml` and each estate's `_messages.yaml`, where present."""
    folder = Path(workflows_dir)
    found = [folder / MESSAGES_FILE, *folder.glob(f"{ESTATES_DIR}/*/{messages.ESTATE_MESSAGES_FILE}")]
    return sorted(p for p in found if p.exists())


def calendar_files(workflows_dir: Path | str) -> list[Path]:
    """The default calendar and each estate's own, and the named calendars (`calendars/*.yaml`), where present."""
    folder = Path(workflows_dir)
    named = [*folder.glob(f"{CALENDARS_DIR}/*.yaml"), *folder.glob(f"{ESTATES_DIR}/*/{CALENDARS_DIR}/*.yaml")]
    return sorted(p for p in [folder / CALENDAR_FILE, *folder.glob(f"{ESTATES_DIR}/*/{CALENDAR_FILE}"), *named]
                  if p.exists())


def overlay_target(overlay_path: Path | str) -> tuple[Path, Path, str]:
    """For `<dir>/estates/<estate>/<id>.yaml`: (its definitions folder, the base file, the estate)."""
    overlay_path = Path(overlay_path)
    workflows_dir = overlay_path.parent.parent.parent
    return workflows_dir, workflows_dir / overlay_path.name, overlay_path.parent.name


def is_overlay(path: Path | str) -> bool:
    """Whether a path looks like `.../estates/<estate>/<id>.yaml` (a name starting with `_` is not one)."""
    path = Path(path)
    return path.parent.parent.name == ESTATES_DIR and not path.name.startswith("_")


def is_estate_file(path: Path | str) -> bool:
    """Whether a path is `.../estates/<estate>/_<name>.yaml`: an estate's file that is no overlay."""
    path = Path(path)
    return path.parent.parent.name == ESTATES_DIR and path.name.startswith("_")


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


def _problems_of(document: Any, smap: SourceMap, catalogue: Catalogue, workflows: Mapping[str, Any] | None,
                 routes: frozenset[str] | None = None) -> tuple[WorkflowDefinition | None, list[Problem]]:
    schema_problems = schema.validate(document, smap)
    meaning_problems: list[Problem] = []
    if isinstance(document, dict):
        context = checks.Context(document, smap, catalogue.labels, workflows, catalogue.departments, routes)
        meaning_problems += checks.check(context)
    definition, compile_problems = compile_definition(document, smap, catalogue)
    meaning_problems += compile_problems
    # Where the schema already refused a value, a meaning problem about it only repeats it.
    refused = {p.path for p in schema_problems}
    meaning_problems = [
        p for p in meaning_problems if not any(p.path[:n] in refused for n in range(1, len(p.path) + 1))
    ]
    return definition, schema_problems + meaning_problems


def _spawns(document: Any) -> bool:
    """Whether any transition of a document spawns or links an item (the cross-workflow checks)."""
    transitions = document.get("transitions") if isinstance(document, dict) else None
    return any(
        isinstance(action, dict) and ("spawn" in action or "link" in action)
        for transition in (transitions if isinstance(transitions, list) else ())
        if isinstance(transition, dict) and isinstance(transition.get("actions"), list)
        for action in transition["actions"]
    )


def _routes_named(document: Any) -> bool:
    """Whether a field of the document names a route (only then are routing files read)."""
    found = document.get("fields") if isinstance(document, dict) else None
    return isinstance(found, dict) and any(isinstance(spec, dict) and "route" in spec for spec in found.values())


class Loader:
    """Loads definitions against one definitions folder (its roles and sibling workflows).

    A snapshot: each file is read once per Loader (make a new one to see changed files).
    """

    def __init__(self, workflows_dir: Path | str = DEFAULT_WORKFLOWS_DIR) -> None:
        self.workflows_dir = Path(workflows_dir)
        self.catalogue = load_catalogue(self.workflows_dir)
        self.roles = self.catalogue.labels
        self.departments = self.catalogue.departments
        self._documents: dict[str, Any] | None = None
        self._routes: frozenset[str] | None = None
        self._loaded: dict[tuple[Path, str | None], tuple[WorkflowDefinition | None, list[Problem]]] = {}
        self._messages: dict[str | None, messages.Catalogue | None] = {}

    @property
    def routes(self) -> frozenset[str] | None:
        """The route names the folder's routing files define (None: it has none, so nothing to check)."""
        if self._routes is None:
            names: set[str] = set()
            for path in routing_files(self.workflows_dir):
                document = read_source(path).document
                found = document.get("routes") if isinstance(document, dict) else None
                names |= {str(name) for name in found} if isinstance(found, dict) else set()
            self._routes = frozenset(names)
        return self._routes if routing_files(self.workflows_dir) else None  # no tables: any name may come

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

    def routing_problems(self, path: Path | str) -> list[Problem]:
        """Every problem of an estate's routing file (`estates/<estate>/_routing.yaml`), sorted."""
        source = read_source(path)
        if source.document is None:
            return list(source.problems)
        return sorted({*source.problems, *routing.problems(source.document, source.smap, self.documents)})

    def load_routing(self, path: Path | str) -> RoutingTable:
        """The checked routing table of a file. Raises DefinitionError."""
        found = self.routing_problems(path)
        if found:
            raise DefinitionError(found)
        return RoutingTable.of(read_source(path).document)

    def messages_document(self, estate: str | None = None) -> dict[str, Any] | None:
        """The resident message catalogue document of every estate (None) or of one (its _messages.yaml
        merged onto messages.yaml); None when the folder has no messages.yaml."""
        base = read_source(self.workflows_dir / MESSAGES_FILE) if (self.workflows_dir / MESSAGES_FILE).exists() \
            else None
        if base is None or not isinstance(base.document, dict):
            return None
        override = self.workflows_dir / ESTATES_DIR / (estate or "") / messages.ESTATE_MESSAGES_FILE
        extra = read_source(override).document if estate is not None and override.exists() else None
        return messages.merge(base.document, extra)

    def messages(self, estate: str | None = None) -> messages.Catalogue | None:
        """The compiled catalogue `messages_document` gives, read once per estate."""
        if estate not in self._messages:
            document = self.messages_document(estate)
            self._messages[estate] = messages.Catalogue.of(document) if document is not None else None
        return self._messages[estate]

    def messages_problems(self, path: Path | str) -> list[Problem]:
        """Every problem of a messages file (messages.yaml, or an estate's _messages.yaml), sorted."""
        source = read_source(path)
        if source.document is None:
            return list(source.problems)
        found = messages.problems(source.document, source.smap, estate_file=is_estate_file(path))
        return sorted({*source.problems, *found})

    def load(self, path: Path | str, *, estate: str | None = None) -> WorkflowDefinition:
        """The compiled definition of one file. Raises DefinitionError."""
        definition, problems = self._load(Path(path), estate)
        if problems or definition is None:
            raise DefinitionError(problems)
        return definition

    def _load(self, path: Path, estate: str | None) -> tuple[WorkflowDefinition | None, list[Problem]]:
        # A Loader is a snapshot of its folder: each file (with an estate's overlay) is read and
        # checked once; publishing the same folder again, or validating a folder, reuses it.
        key = (path.resolve(), estate)
        if key not in self._loaded:
            self._loaded[key] = self._read(path, estate)
        definition, problems = self._loaded[key]
        return definition, list(problems)

    def _read(self, path: Path, estate: str | None) -> tuple[WorkflowDefinition | None, list[Problem]]:
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
        routes = self.routes if _routes_named(document) else None
        definition, more = _problems_of(document, smap, self.catalogue, workflows, routes)
        if messages.has_resident_notify(document):  # the message templates are read only when texted
            more += messages.workflow_problems(document, smap, self.messages(estate))
        more += named_calendar_problems(document, smap, self.workflows_dir / CALENDARS_DIR)
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


def compile_document(document: Mapping[str, Any], *, roles: Mapping[str, Any], source: str = "") -> WorkflowDefinition:
    """Compile an already-merged document (e.g. a published version read from the store).

    `roles` is the role catalogue in either shape: id → label, or roles.yaml's own (a role may map
    to {label, department}); WorkflowVersion.roles stores the latter.

    Raises:
        DefinitionError: the document no longer passes (e.g. a role was removed).
    """
    smap = SourceMap(source or str(document.get("id", "document")))
    definition, problems = _problems_of(dict(document), smap, Catalogue.of(roles), None)
    if problems or definition is None:
        raise DefinitionError(problems)
    return definition
