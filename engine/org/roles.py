"""The role catalogue staff can be given: role id → Chinese label.

    role_catalogue(session) -> dict[str, str]    the roles of the published definitions (newest of each)

The running site checks roles against what `estateflow publish` stored with each version,
so giving a role the definitions do not know is refused. Before anything is published the
catalogue is empty; the command line then reads roles.yaml itself (engine/cli/accounts.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.language.roles import Catalogue
from engine.store.models import WorkflowVersion

__all__ = ["role_catalogue"]


def role_catalogue(session: Session) -> dict[str, str]:
    """Role id → label over the newest version of every published workflow (empty: nothing published)."""
    rows = session.execute(select(WorkflowVersion.workflow_id, WorkflowVersion.estate_id, WorkflowVersion.roles)
                           .order_by(WorkflowVersion.id.desc()))
    newest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for workflow_id, estate_id, roles in rows:
        newest.setdefault((workflow_id, estate_id), roles or {})
    catalogue: dict[str, str] = {}
    for roles in newest.values():
        for role, label in Catalogue.of(roles).labels.items():
            catalogue.setdefault(role, label)
    return catalogue
