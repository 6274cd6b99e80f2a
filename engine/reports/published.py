"""Published reports: versions in report_versions, compiled against the published workflows.

`publish_reports` (called by `estateflow publish`, in the same transaction as the workflows) checks
every report file and stores each changed document as the next version of (report id, estate),
like routing tables (engine/runtime/registry.py): estate '' is the base report; an estate that
overrides a report, or adds its own, gets the merged document as its version; an estate whose
override was removed gets the plain base again, so it never stays on a stale merge. Web and worker
processes read these rows, never the files.

`current` compiles the newest version for an estate (its own, else the base) against that estate's
current published workflow definitions; the compiled report is cached by the report's content
hash and the hashes of those workflow versions, so it never goes stale and stays right across
databases.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.access import visibility
from engine.access.actor import Actor
from engine.errors import Conflict, DefinitionError, Problem
from engine.language.definition import WorkflowDefinition
from engine.language.loader import Loader
from engine.reports.definition import ReportDefinition
from engine.reports.loader import compile_report, estate_report_ids, report_documents, report_files, report_problems
from engine.runtime.registry import BASE, REGISTRY, Registry, canonical, content_hash
from engine.store.models import ReportVersion, WorkflowVersion

__all__ = ["PublishedReport", "available", "current", "publish_reports"]


@dataclass(frozen=True, slots=True)
class PublishedReport:
    """A stored report version; `created` is False when publishing was a no-op."""

    report_id: str
    estate_id: str
    version: int
    content_hash: str
    created: bool


def publish_reports(session: Session, workflows_dir: Path | str, *, loader: Loader | None = None,
                    now: datetime | None = None, by: str | None = None) -> list[PublishedReport]:
    """Check every report file of the folder and store the changed documents (base and per estate).

    Raises:
        DefinitionError: any report file has problems (then nothing is stored).
        Conflict: someone published the same report at the same moment.
    """
    loader = loader or Loader(workflows_dir)
    problems: list[Problem] = [p for path in report_files(loader.workflows_dir) for p in report_problems(path, loader)]
    if problems:
        raise DefinitionError(problems)
    base = report_documents(loader)
    stored: list[tuple[str, str, Any]] = [(report_id, BASE, document) for report_id, document in base.items()]
    estates = estate_report_ids(loader.workflows_dir)
    for estate, ids in sorted(estates.items()):
        merged = report_documents(loader, estate)
        stored += [(report_id, estate, merged[report_id]) for report_id in ids]
    earlier = session.execute(select(ReportVersion.estate_id, ReportVersion.report_id)
                              .where(ReportVersion.estate_id != BASE).distinct()).all()
    for estate, report_id in sorted(earlier):
        if report_id in base and report_id not in estates.get(estate, ()):
            stored.append((report_id, estate, base[report_id]))  # the override is gone: the base again
    return [_publish(session, report_id, estate, document, now, by) for report_id, estate, document in stored]


def _publish(session: Session, report_id: str, estate: str, document: Any, now: datetime | None,
             by: str | None) -> PublishedReport:
    plain = canonical(document)
    digest = content_hash(plain)
    latest = session.execute(
        select(ReportVersion.version, ReportVersion.content_hash)
        .where(ReportVersion.report_id == report_id, ReportVersion.estate_id == estate)
        .order_by(ReportVersion.version.desc()).limit(1)
    ).first()
    if latest is not None and latest.content_hash == digest:
        return PublishedReport(report_id, estate, latest.version, digest, False)
    version = latest.version + 1 if latest else 1
    row = ReportVersion(report_id=report_id, estate_id=estate, version=version, content_hash=digest,
                        document=plain, published_at=now or datetime.now(UTC), published_by=by)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(None, None, f"the report {report_id} was published by someone else meanwhile") from None
    return PublishedReport(report_id, estate, version, digest, True)


_compiled: dict[tuple[str, tuple[tuple[str, str], ...]], ReportDefinition] = {}
_lock = threading.Lock()


def _workflows(session: Session, estate: str, registry: Registry) -> dict[str, tuple[str, WorkflowDefinition]]:
    """Workflow id → (content hash, definition) of the estate's current published versions."""
    rows = session.execute(
        select(WorkflowVersion.id, WorkflowVersion.workflow_id, WorkflowVersion.content_hash)
        .where(WorkflowVersion.estate_id.in_((estate, BASE)))
        .order_by(WorkflowVersion.workflow_id, case((WorkflowVersion.estate_id == BASE, 1), else_=0),
                  WorkflowVersion.version.desc())
    ).all()
    found: dict[str, tuple[str, WorkflowDefinition]] = {}
    for row in rows:
        if row.workflow_id not in found:  # the first row of each workflow is its current version
            found[row.workflow_id] = (row.content_hash, registry.compiled(session, row.id, row.content_hash))
    return found


def _resolve(session: Session, report_id: str, estate: str, registry: Registry,
             workflows: dict[str, tuple[str, WorkflowDefinition]] | None = None,
             ) -> tuple[ReportDefinition, dict[str, WorkflowDefinition]] | None:
    """The compiled report for `estate` and the workflow definitions it counts there, or None.
    `workflows`: the estate's current workflows (`_workflows`) when the caller has them already."""
    row = session.execute(
        select(ReportVersion.id, ReportVersion.content_hash)
        .where(ReportVersion.report_id == report_id, ReportVersion.estate_id.in_((estate, BASE)))
        .order_by(case((ReportVersion.estate_id == BASE, 1), else_=0), ReportVersion.version.desc()).limit(1)
    ).first()
    if row is None:
        return None
    workflows = _workflows(session, estate, registry) if workflows is None else workflows
    key = (row.content_hash, tuple(sorted((wid, digest) for wid, (digest, _) in workflows.items())))
    definitions = {wid: definition for wid, (_, definition) in workflows.items()}
    report = _compiled.get(key)
    if report is None:
        document = session.get_one(ReportVersion, row.id).document
        report = compile_report(document, definitions, source=f"{report_id} [{estate or 'base'}]")
        with _lock:
            report = _compiled.setdefault(key, report)
    counted = report.workflows or tuple(definitions)
    return report, {wid: definitions[wid] for wid in counted if wid in definitions}


def current(session: Session, report_id: str, estate: str = BASE, *,
            registry: Registry = REGISTRY) -> ReportDefinition | None:
    """The newest published report `report_id` for `estate` (its own version, else the base), compiled
    against the estate's current workflows; None when it was never published.

    Raises:
        DefinitionError: the stored report no longer fits the published workflows (publish them together).
    """
    found = _resolve(session, report_id, estate, registry)
    return found[0] if found is not None else None


def available(session: Session, actor: Actor, *, registry: Registry = REGISTRY) -> list[ReportDefinition]:
    """The reports the actor may open, by title: those counting at least one workflow the actor sees in one
    of their estates (a '*' report: any workflow). Each comes as compiled for the first such estate."""
    report_ids = session.scalars(select(ReportVersion.report_id).distinct().order_by(ReportVersion.report_id)).all()
    if actor.estates is None:
        places = sorted({BASE, *session.scalars(select(ReportVersion.estate_id).distinct())})
    else:
        places = sorted(actor.estates)
    found: list[ReportDefinition] = []
    workflows = {estate: _workflows(session, estate, registry) for estate in places} if report_ids else {}
    for report_id in report_ids:
        for estate in places:
            try:
                resolved = _resolve(session, report_id, estate, registry, workflows[estate])
            except DefinitionError:
                continue  # a stored report the workflows outgrew: `estateflow publish` reports it
            if resolved is not None and any(visibility.rule_for(actor, definition, estate) != visibility.HIDDEN
                                            for definition in resolved[1].values()):
                found.append(resolved[0])
                break
    return sorted(found, key=lambda report: (report.title, report.id))
