"""Published definitions and routing tables: immutable versions in the store, compiled once each.

`publish` stores a definition's validated (overlay-merged) document as a new
version of (workflow id, estate) unless its content hash equals the latest one's
(then it is a no-op returning that version). `estate` '' is the base definition;
an estate id marks the definition merged with that estate's overlay. Lookups
compile a stored document with `engine.language.loader.compile_document` against the role
catalogue stored with it, once per content hash, and cache the result (which owns its
state graph, engine/language/machine.py): versions are immutable, so the cache never
goes stale, and keying by hash (not row id) stays right across databases (tests, the
scenario runner).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, DefinitionError, Problem
from engine.language.definition import WorkflowDefinition
from engine.language.loader import (
    Loader,
    base_files,
    compile_document,
    estates_with_overlays,
    read_source,
    routing_files,
)
from engine.language.machine import StateGraph
from engine.runtime import resident_messages
from engine.store.models import RoutingVersion, WorkflowVersion

__all__ = [
    "BASE", "Published", "PublishedRouting", "REGISTRY", "Registry", "canonical", "content_hash", "publish_folder",
    "publish_routing", "publish_site",
]

BASE = ""
"""The `estate_id` of a base (not overlay-merged) definition."""


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not part of a workflow document")


def canonical(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document as plain JSON data (read-only mappings become dicts, YAML dates ISO strings)."""
    return json.loads(json.dumps(document, ensure_ascii=False, default=_plain))  # type: ignore[no-any-return]


def content_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces): equal content, equal hash."""
    text = json.dumps(canonical(document), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Published:
    """A stored version; `created` is False when publishing was a no-op."""

    id: int
    workflow_id: str
    estate_id: str
    version: int
    content_hash: str
    created: bool


@dataclass(frozen=True, slots=True)
class Current:
    """The version new items of (workflow, estate) start on."""

    id: int
    version: int
    definition: WorkflowDefinition


class Registry:
    """Publishes versions and hands out compiled definitions (cached per content hash)."""

    def __init__(self) -> None:
        self._compiled: dict[str, WorkflowDefinition] = {}
        self._lock = threading.Lock()

    def publish(self, session: Session, definition: WorkflowDefinition, *, roles: Mapping[str, Any],
                estate: str = BASE, now: datetime | None = None, by: str | None = None,
                comment: str | None = None) -> Published:
        """Store `definition` as the next version of (its id, `estate`), unless unchanged.

        `roles` is the role catalogue stored with it, best in roles.yaml's own shape
        (`Loader.catalogue.document`): executors' departments are kept that way. `comment`: the
        publisher's note on the change (the versions page shows it).

        Raises:
            Conflict: someone published the same workflow at the same moment.
        """
        document = canonical(definition.document)
        digest = content_hash(document)
        latest = session.execute(
            select(WorkflowVersion.id, WorkflowVersion.version, WorkflowVersion.content_hash)
            .where(WorkflowVersion.workflow_id == definition.id, WorkflowVersion.estate_id == estate)
            .order_by(WorkflowVersion.version.desc()).limit(1)
        ).first()
        if latest is not None and latest.content_hash == digest:
            return Published(latest.id, definition.id, estate, latest.version, digest, False)
        row = WorkflowVersion(
            workflow_id=definition.id, estate_id=estate, version=(latest.version + 1 if latest else 1),
            content_hash=digest, document=document, roles=canonical(roles),
            published_at=now or datetime.now(UTC), published_by=by, comment=comment,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            raise Conflict(None, None, f"{definition.id} was published by someone else meanwhile") from None
        with self._lock:
            self._compiled.setdefault(digest, definition)
        return Published(row.id, definition.id, estate, row.version, digest, True)

    def current(self, session: Session, workflow_id: str, estate: str) -> Current | None:
        """The newest version for `estate` (its own merged one, else the base one), or None."""
        row = session.execute(
            select(WorkflowVersion.id, WorkflowVersion.version, WorkflowVersion.content_hash)
            .where(WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.estate_id.in_((estate, BASE)))
            .order_by(case((WorkflowVersion.estate_id == BASE, 1), else_=0), WorkflowVersion.version.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return Current(row.id, row.version, self.compiled(session, row.id, row.content_hash))

    def compiled(self, session: Session, definition_id: int, digest: str | None = None) -> WorkflowDefinition:
        """The compiled definition of a stored version (compiled on first use only)."""
        if digest is not None and (hit := self._compiled.get(digest)) is not None:
            return hit
        row = session.get_one(WorkflowVersion, definition_id)
        if (hit := self._compiled.get(row.content_hash)) is not None:
            return hit
        definition = compile_document(row.document, roles=row.roles,
                                      source=f"{row.workflow_id} v{row.version}")
        with self._lock:
            return self._compiled.setdefault(row.content_hash, definition)

    def graph(self, session: Session, definition_id: int, digest: str | None = None) -> StateGraph:
        """The state graph of a stored version (its compiled definition owns it)."""
        return self.compiled(session, definition_id, digest).graph


REGISTRY = Registry()
"""The process-wide registry (the cache is safe to share: versions never change)."""


def publish_folder(session: Session, workflows_dir: Path | str, *, registry: Registry = REGISTRY,
                   now: datetime | None = None, by: str | None = None, loader: Loader | None = None) -> list[Published]:
    """Validate and publish every definition of a folder, base and per-estate, and each estate's
    routing table (engine/runtime/routing.py); returns the definitions' versions.

    Raises:
        DefinitionError: any file has problems (then nothing is published).
    """
    return publish_site(session, workflows_dir, registry=registry, now=now, by=by, loader=loader)[0]


def publish_site(session: Session, workflows_dir: Path | str, *, registry: Registry = REGISTRY,
                 now: datetime | None = None, by: str | None = None, loader: Loader | None = None,
                 comment: str | None = None) -> tuple[list[Published], list[PublishedRouting]]:
    """What `estateflow publish` stores: every definition (base and per-estate) and routing table.

    An estate gets its own version for each workflow it overlays, and keeps getting
    one (the plain base) after its overlay is removed, so it never stays on a stale merge.
    `loader`: the folder's Loader when the caller keeps one (it reads each file once).
    `comment`: stored with each new workflow version (engine/cli/publishing.py publishes the files too).

    Raises:
        DefinitionError: any file has problems (then nothing is published).
    """
    loader = loader or Loader(workflows_dir)  # a caller publishing the same folder often passes its own
    bases = {path.stem: loader.load(path) for path in base_files(workflows_dir)}
    merged: list[tuple[str, WorkflowDefinition]] = [(BASE, d) for d in bases.values()]
    overlays = estates_with_overlays(workflows_dir)
    for estate, ids in sorted(overlays.items()):
        merged += [(estate, loader.load(Path(workflows_dir) / f"{wid}.yaml", estate=estate)) for wid in ids]
    earlier = session.execute(
        select(WorkflowVersion.estate_id, WorkflowVersion.workflow_id)
        .where(WorkflowVersion.estate_id != BASE).distinct()
    ).all()
    for estate, workflow_id in earlier:
        if workflow_id in bases and workflow_id not in overlays.get(estate, ()):
            merged.append((estate, bases[workflow_id]))
    tables = _routing_documents(loader, workflows_dir)  # checked before anything is stored
    resident_messages.publish(session, loader, now=now, by=by)  # messages.yaml, estates' _messages.yaml: checked first
    published = [registry.publish(session, d, roles=loader.catalogue.document, estate=e, now=now, by=by,
                                  comment=comment)
                 for e, d in merged]
    return published, [_publish_routing(session, estate, document, now, by) for estate, document in tables]


@dataclass(frozen=True, slots=True)
class PublishedRouting:
    """A stored routing version; `created` is False when publishing was a no-op."""

    estate_id: str
    version: int
    content_hash: str
    created: bool


def publish_routing(session: Session, workflows_dir: Path | str, *, loader: Loader | None = None,
                    now: datetime | None = None, by: str | None = None) -> list[PublishedRouting]:
    """Validate every estate's routing file of the folder and store the changed ones.

    Raises:
        DefinitionError: any routing file has problems (then none is stored).
        Conflict: someone published the same estate's table at the same moment.
    """
    tables = _routing_documents(loader or Loader(workflows_dir), workflows_dir)
    return [_publish_routing(session, estate, document, now, by) for estate, document in tables]


def _routing_documents(loader: Loader, workflows_dir: Path | str) -> list[tuple[str, Any]]:
    """(estate, document) of every routing file of the folder. Raises DefinitionError."""
    files = routing_files(workflows_dir)
    problems: list[Problem] = [p for path in files for p in loader.routing_problems(path)]
    if problems:
        raise DefinitionError(problems)
    return [(path.parent.name, read_source(path).document) for path in files]


def _publish_routing(session: Session, estate: str, document: Mapping[str, Any], now: datetime | None,
             by: str | None) -> PublishedRouting:
    plain = canonical(document)
    digest = content_hash(plain)
    latest = session.execute(
        select(RoutingVersion.version, RoutingVersion.content_hash).where(RoutingVersion.estate_id == estate)
        .order_by(RoutingVersion.version.desc()).limit(1)
    ).first()
    if latest is not None and latest.content_hash == digest:
        return PublishedRouting(estate, latest.version, digest, False)
    version = latest.version + 1 if latest else 1
    row = RoutingVersion(estate_id=estate, version=version, content_hash=digest, document=plain,
                         published_at=now or datetime.now(UTC), published_by=by)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(None, None, f"the routing of {estate} was published by someone else meanwhile") from None
    return PublishedRouting(estate, version, digest, True)
