"""The database tables, as SQLAlchemy 2.x typed declarative models, one module per area.

    base        Base, UTCDateTime, JSONDoc
    people      estates, staff, logins, posts, buildings, units, residents, consent
    items       published workflow versions, items, deadlines, history, links, assignees, attachments
    records     the outbox, worker passes, the audit and access logs
    published   routing tables, message catalogues and reports published per estate; the definitions
                folder's files and drafts

The schema is created and changed only by the Alembic migrations in
engine/store/migrations/ (never `create_all` at start-up); a test checks that the
migrations and these models agree. All times are stored in UTC (`UTCDateTime`);
field values live in `items.data` as JSON (see engine/language/fields.py for the encoding).
Import the tables from here (`from engine.store.models import Item`): where each is defined is
this package's own business.
"""

from __future__ import annotations

from engine.store.models.base import Base, JSONDoc, UTCDateTime
from engine.store.models.items import (
    Attachment,
    Counter,
    Item,
    ItemAssignee,
    ItemDeadline,
    ItemHistory,
    ItemLink,
    WorkflowVersion,
)
from engine.store.models.people import (
    AddressFailure,
    Building,
    Estate,
    LoginFailure,
    LoginSession,
    Resident,
    ResidentConsent,
    Unit,
    User,
    UserEstate,
    UserRole,
)
from engine.store.models.published import (
    DefinitionFile,
    Draft,
    MessagesVersion,
    PublishedDocument,
    ReportVersion,
    RoutingVersion,
)
from engine.store.models.records import AccessLog, AuditLog, Outbox, WorkerPass

__all__ = [
    "AccessLog", "AddressFailure", "Attachment", "AuditLog", "Base", "Building", "Counter", "DefinitionFile", "Draft",
    "Estate", "Item",
    "ItemAssignee", "ItemDeadline", "ItemHistory", "ItemLink", "JSONDoc", "LoginFailure", "LoginSession",
    "MessagesVersion", "Outbox", "PublishedDocument", "ReportVersion", "Resident", "ResidentConsent",
    "RoutingVersion", "UTCDateTime", "Unit", "User", "UserEstate", "UserRole", "WorkerPass",
    "WorkflowVersion",
]
