"""The store: SQLAlchemy models, engines and sessions, migrations.

    from engine.store import make_engine, make_session_factory, transaction, upgrade

Store functions take a `Session` and never commit; the caller owns the transaction
(`with transaction(factory) as session: ...`).
"""

from __future__ import annotations

from engine.store.db import DEFAULT_URL, database_url, make_engine, make_session_factory, transaction, translate_busy
from engine.store.migrate import upgrade
from engine.store.models import (
    Base,
    Counter,
    Estate,
    Item,
    ItemHistory,
    ItemLink,
    Outbox,
    User,
    UserEstate,
    UserRole,
    WorkflowVersion,
)

__all__ = [
    "DEFAULT_URL", "Base", "Counter", "Estate", "Item", "ItemHistory", "ItemLink", "Outbox", "User",
    "UserEstate", "UserRole", "WorkflowVersion", "database_url", "make_engine", "make_session_factory",
    "transaction", "translate_busy", "upgrade",
]
