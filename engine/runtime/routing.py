"""Published routing tables: each estate's _routing.yaml, stored like a workflow version.

    current_routing(session, estate_id)                  the newest stored table of an estate
    routed_user(session, estate_id, route, values, building)   the username a route gives, or None

`estateflow publish` (engine/runtime/registry.py: publish_routing) stores each
`workflows/estates/<estate>/_routing.yaml` as a new row of routing_versions unless its content
equals the estate's newest (then nothing changes), so every web and worker process reads the same
table from the database; the newest version of an estate applies. The forms (web/) call
`routed_user` to start a `user` field with `route:` filled in with the routed person; nothing is
decided by it: the person filling the form may change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.language.routing import RoutingTable
from engine.store.models import RoutingVersion

__all__ = ["current_routing", "routed_user"]


def current_routing(session: Session, estate_id: str) -> RoutingTable | None:
    """The newest published routing table of `estate_id`, or None when it has none."""
    document = session.scalars(
        select(RoutingVersion.document).where(RoutingVersion.estate_id == estate_id)
        .order_by(RoutingVersion.version.desc()).limit(1)
    ).first()
    return RoutingTable.of(document) if document is not None else None


def routed_user(session: Session, estate_id: str, route: str, values: Mapping[str, Any],
                building: str | None) -> str | None:
    """The username `route` of `estate_id`'s table gives for an item's `values` and its unit's
    `building` name, or None (no table, no such route, nobody routed for that value)."""
    table = current_routing(session, estate_id)
    return table.user(route, values, building) if table is not None else None
