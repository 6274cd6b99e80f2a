"""Load report definitions: the files, their problems, the compiled ReportDefinitions.

    report_files(workflows_dir)                  workflows/reports/*.yaml, then estates/<e>/reports/*.yaml
    report_problems(path, loader)                every problem of one file (an override merged with its base)
    compile_report(document, workflows)          a merged document → ReportDefinition (DefinitionError)
    load_reports(workflows_dir, estate=)         the folder's reports by id (DefinitionError)
    report_documents(loader, estate)             report id → merged document, what `publish` stores

The stages are those of workflows: read the YAML with positions (engine/language/source.py), merge an
estate's override (merge.py), the JSON Schema and the meaning (checks.py), then build (build.py).
A base report is checked against the folder's workflows and, where an estate overlays a workflow it
counts, against that estate's merged workflow too (a report must fit every estate it runs in).
Pure language layer: no database; `estateflow validate` imports this.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import DefinitionError, Problem
from engine.language.definition import WorkflowDefinition
from engine.language.loader import (
    DEFAULT_WORKFLOWS_DIR,
    ESTATES_DIR,
    Loader,
    Source,
    base_files,
    estates_with_overlays,
    read_source,
)
from engine.language.source import SourceMap
from engine.reports import checks
from engine.reports.build import build
from engine.reports.definition import ReportDefinition
from engine.reports.merge import merge

__all__ = [
    "REPORTS_DIR", "compile_report", "estate_of", "estate_report_ids", "load_reports", "report_documents",
    "report_files", "report_problems",
]

REPORTS_DIR = "reports"


def report_files(workflows_dir: Path | str) -> list[Path]:
    """The folder's report files: `reports/*.yaml`, then every estate's `estates/<e>/reports/*.yaml`."""
    folder = Path(workflows_dir)
    return [*sorted(folder.glob(f"{REPORTS_DIR}/*.yaml")),
            *sorted(folder.glob(f"{ESTATES_DIR}/*/{REPORTS_DIR}/*.yaml"))]


def estate_of(path: Path | str) -> str | None:
    """The estate of `.../estates/<estate>/reports/<file>.yaml`; None for a base report file."""
    path = Path(path)
    if path.parent.name == REPORTS_DIR and path.parent.parent.parent.name == ESTATES_DIR:
        return path.parent.parent.name
    return None


@dataclass(frozen=True)
class _Report:
    """A report file read (and for an estate's override, merged onto its base)."""

    id: str
    path: Path
    document: Any
    smap: SourceMap
    problems: tuple[Problem, ...]


def _target(path: Path, document: Any) -> str:
    """The report a file defines or overrides: its `id`, else its file name."""
    found = document.get("id") if isinstance(document, dict) else None
    return found if isinstance(found, str) else path.stem


@dataclass
class _Snapshot:
    """What one Loader's folder gave: a Loader is a snapshot, so each file is read, and each estate's
    workflows gathered, once per Loader (validating a folder checks every report against them)."""

    sources: dict[Path, Source] = field(default_factory=dict)
    definitions: dict[str | None, tuple[dict[str, WorkflowDefinition], frozenset[str]]] = field(default_factory=dict)


_SNAPSHOTS: weakref.WeakKeyDictionary[Loader, _Snapshot] = weakref.WeakKeyDictionary()


def _snapshot(loader: Loader) -> _Snapshot:
    return _SNAPSHOTS.setdefault(loader, _Snapshot())


def _read(loader: Loader, path: Path) -> Source:
    sources = _snapshot(loader).sources
    if path not in sources:
        sources[path] = read_source(path)
    return sources[path]


def _reports(loader: Loader, estate: str | None) -> tuple[dict[str, _Report], list[Problem]]:
    """The folder's reports by id, an estate's files merged in; and the duplicate ids found."""
    workflows_dir = loader.workflows_dir
    found: dict[str, _Report] = {}
    duplicates: list[Problem] = []
    bases = sorted(workflows_dir.glob(f"{REPORTS_DIR}/*.yaml"))
    own = sorted(workflows_dir.glob(f"{ESTATES_DIR}/{estate}/{REPORTS_DIR}/*.yaml")) if estate else []
    taken: dict[str, Path] = {}
    for path in [*bases, *own]:
        source = _read(loader, path)
        report_id = _target(path, source.document)
        if report_id in taken and (path in bases or taken[report_id] not in bases):
            message = f"the report id '{report_id}' is already taken by {taken[report_id]}"
            duplicates.append(source.smap.problem(("id",), message, code="duplicate_id"))
            continue
        taken[report_id] = path
        base = found.get(report_id)
        if base is not None and isinstance(base.document, dict) and isinstance(source.document, dict):
            document, smap = merge(base.document, base.smap, source.document, source.smap)
            found[report_id] = _Report(report_id, path, document, smap, base.problems + source.problems)
        else:
            found[report_id] = _Report(report_id, path, source.document, source.smap, source.problems)
    return found, duplicates


def _definitions(loader: Loader, estate: str | None) -> tuple[dict[str, WorkflowDefinition], frozenset[str]]:
    """The folder's workflows (with `estate`'s overlays) that load, and the ids of those that do not."""
    known = _snapshot(loader).definitions
    if estate not in known:
        known[estate] = _gather(loader, estate)
    return known[estate]


def _gather(loader: Loader, estate: str | None) -> tuple[dict[str, WorkflowDefinition], frozenset[str]]:
    definitions: dict[str, WorkflowDefinition] = {}
    broken: set[str] = set()
    for path in base_files(loader.workflows_dir):
        overlaid = estate is not None and (loader.workflows_dir / ESTATES_DIR / estate / path.name).exists()
        try:
            definitions[path.stem] = loader.load(path, estate=estate if overlaid else None)
        except DefinitionError:
            broken.add(path.stem)
    return definitions, frozenset(broken)


def _check(report: _Report, workflows: Mapping[str, WorkflowDefinition], *, roles: Mapping[str, str] | None,
           broken: frozenset[str] = frozenset()) -> list[Problem]:
    """Schema, then meaning; a meaning problem under a path the schema refused is left out."""
    if report.document is None:
        return list(report.problems)
    found = checks.schema_problems(report.document, report.smap)
    meaning = checks.meaning_problems(report.document, report.smap, workflows, roles=roles, broken=broken)
    return sorted({*report.problems, *found, *checks.problems_under(meaning, {p.path for p in found})})


def report_problems(path: Path | str, loader: Loader) -> list[Problem]:
    """Every problem of one report file against `loader`'s folder, sorted.

    An estate's file (estates/<e>/reports/) is checked merged with the base report it overrides, against
    the estate's workflows; a base file also against each estate's overlay of a workflow it counts.
    """
    path = Path(path)
    estate = estate_of(path)
    source = read_source(path)
    if source.document is None:
        return list(source.problems)
    reports, duplicates = _reports(loader, estate)
    report_id = _target(path, source.document)
    mine = reports.get(report_id)
    found = [p for p in duplicates if p.file == str(path)]
    if mine is None or mine.path != path:  # a file outside the folder, or a duplicate: check it alone
        mine = _Report(report_id, path, source.document, source.smap, source.problems)
    workflows, broken = _definitions(loader, estate)
    roles = loader.catalogue.labels
    found += _check(mine, workflows, roles=roles, broken=broken)
    if estate is None and isinstance(mine.document, dict) and not found:
        named = checks.counted(mine.document, workflows)
        for other, overlaid in sorted(estates_with_overlays(loader.workflows_dir).items()):
            if not {d.id for d in named} & set(overlaid):
                continue
            theirs, _ = _definitions(loader, other)
            found += [_in_estate(p, other) for p in _check(mine, theirs, roles=roles)]
    return sorted(set(found))


def _in_estate(problem: Problem, estate: str) -> Problem:
    return Problem(problem.file, problem.line, problem.column, problem.path,
                   f"with the workflows of estate '{estate}': {problem.message}", problem.code)


def compile_report(document: Mapping[str, Any], workflows: Mapping[str, WorkflowDefinition], *,
                   source: str = "") -> ReportDefinition:
    """Check and compile an (already merged) report document against `workflows` (id → definition:
    those the report may name). Roles are not checked here (report_problems does, with the catalogue).

    Raises:
        DefinitionError: every problem found.
    """
    smap = SourceMap(source or str(document.get("id", "report")))
    report = _Report(str(document.get("id", "")), Path(smap.file), dict(document), smap, ())
    found = _check(report, workflows, roles=None)
    if found:
        raise DefinitionError(found)
    return build(report.document, checks.counted(report.document, workflows))


def report_documents(loader: Loader, estate: str | None = None) -> dict[str, Any]:
    """Report id → its document (merged with `estate`'s override, or the estate's own), unchecked."""
    return {report_id: report.document for report_id, report in _reports(loader, estate)[0].items()}


def estate_report_ids(workflows_dir: Path | str) -> dict[str, list[str]]:
    """Estate → the ids of the reports it overrides or adds (its estates/<e>/reports/ files)."""
    result: dict[str, list[str]] = {}
    for path in report_files(workflows_dir):
        estate = estate_of(path)
        if estate is not None:
            result.setdefault(estate, []).append(_target(path, read_source(path).document))
    return result


def load_reports(workflows_dir: Path | str = DEFAULT_WORKFLOWS_DIR, *, loader: Loader | None = None,
                 estate: str | None = None) -> dict[str, ReportDefinition]:
    """The folder's reports by id (with `estate`'s overrides and own reports when given).

    Raises:
        DefinitionError: any report file has problems.
    """
    loader = loader or Loader(workflows_dir)
    files = [p for p in report_files(loader.workflows_dir) if estate_of(p) in (None, estate)]
    found = [p for path in files for p in report_problems(path, loader)]
    if found:
        raise DefinitionError(found)
    workflows, _ = _definitions(loader, estate)
    reports, _ = _reports(loader, estate)
    return {report_id: build(report.document, checks.counted(report.document, workflows))
            for report_id, report in reports.items()}
