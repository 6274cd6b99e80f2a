"""The organisation: buildings, units, residents, roles per estate, assignees, audit and access logs, routing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Roles become per estate: every existing (user, role) row is given each estate the user
works in, so nobody loses a right they had. Items gain `unit_id` and `department`;
outbox rows may be for one person (`user_id`) instead of a role. Existing items get their
`item_assignees` from the `user` fields their stored definition declares, so an engineer
still sees, after the upgrade, the work orders that name him (executors see only those).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "buildings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["estate_id"], ["estates.id"], name=op.f("fk_buildings_estate_id_estates"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
        sa.UniqueConstraint("estate_id", "name", name=op.f("uq_buildings_estate_id_name")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("area_m2", sa.Numeric(10, 2), nullable=True),
        sa.Column("tags", JSONDoc, nullable=False),
        sa.ForeignKeyConstraint(["estate_id"], ["estates.id"], name=op.f("fk_units_estate_id_estates"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["building_id"], ["buildings.id"], name=op.f("fk_units_building_id_buildings"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("estate_id", "number", name=op.f("uq_units_estate_id_number")),
    )
    op.create_index(op.f("ix_units_building_id"), "units", ["building_id"])
    op.create_table(
        "residents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("moved_in_on", sa.Date(), nullable=True),
        sa.Column("moved_out_on", sa.Date(), nullable=True),
        sa.Column("anonymised_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_residents_unit_id_units"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residents")),
    )
    op.create_index(op.f("ix_residents_unit_id"), "residents", ["unit_id"])
    op.create_index(op.f("ix_residents_phone"), "residents", ["phone"])
    op.create_table(
        "item_assignees",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_item_assignees_item_id_items"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_item_assignees_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "field", name=op.f("pk_item_assignees")),
    )
    op.create_index(op.f("ix_item_assignees_user_id"), "item_assignees", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("changes", JSONDoc, nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_estate_id"), "audit_log", ["estate_id"])
    op.create_index(op.f("ix_audit_log_unit_id"), "audit_log", ["unit_id"])
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index(op.f("ix_access_log_at"), "access_log", ["at"])
    op.create_index(op.f("ix_access_log_user_id"), "access_log", ["user_id"])
    op.create_table(
        "routing_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("document", JSONDoc, nullable=False),
        sa.Column("published_at", UTC, nullable=False),
        sa.Column("published_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_versions")),
        sa.UniqueConstraint("estate_id", "version", name=op.f("uq_routing_versions_estate_id_version")),
    )

    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("on_leave", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("stand_in_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_users_stand_in_id_users"), "users", ["stand_in_id"], ["id"],
                                 ondelete="SET NULL")
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("department", sa.String(32), nullable=True))
        batch.create_foreign_key(op.f("fk_items_unit_id_units"), "units", ["unit_id"], ["id"], ondelete="SET NULL")
        batch.create_index(op.f("ix_items_unit_id"), ["unit_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("role", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_outbox_user_id_users"), "users", ["user_id"], ["id"], ondelete="SET NULL")

    # Roles per estate: each (user, role) held in every estate the user works in.
    # A plain copy, then a new table: renaming would keep the old constraint names on PostgreSQL.
    op.execute("CREATE TABLE user_roles_0005 AS SELECT user_id, role FROM user_roles")
    op.drop_table("user_roles")
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["estate_id"], ["estates.id"], name=op.f("fk_user_roles_estate_id_estates"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "estate_id", "role", name=op.f("pk_user_roles")),
    )
    op.execute(
        "INSERT INTO user_roles (user_id, estate_id, role) "
        "SELECT r.user_id, e.estate_id, r.role FROM user_roles_0005 r JOIN user_estates e ON e.user_id = r.user_id"
    )
    op.drop_table("user_roles_0005")
    _assignees_of_existing_items()


def _assignees_of_existing_items() -> None:
    """item_assignees for the items already stored: each `user` field naming a known username."""
    bind = op.get_bind()
    versions = sa.table("workflow_versions", sa.column("id", sa.Integer()), sa.column("document", JSONDoc))
    items = sa.table("items", sa.column("id", sa.Integer()), sa.column("definition_id", sa.Integer()),
                     sa.column("data", JSONDoc))
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("username", sa.String()))
    assignees = sa.table("item_assignees", sa.column("item_id", sa.Integer()), sa.column("field", sa.String()),
                         sa.column("user_id", sa.Integer()))
    user_fields: dict[int, list[str]] = {}
    for version_id, document in bind.execute(sa.select(versions.c.id, versions.c.document)):
        declared = (document or {}).get("fields") or {}
        names = [n for n, spec in declared.items() if isinstance(spec, dict) and spec.get("type") == "user"]
        if names:
            user_fields[version_id] = names
    if not user_fields:
        return
    ids = {username: user_id for username, user_id in bind.execute(sa.select(users.c.username, users.c.id))}
    rows: list[dict[str, object]] = []
    stmt = sa.select(items.c.id, items.c.definition_id, items.c.data).where(
        items.c.definition_id.in_(sorted(user_fields)))
    for item_id, definition_id, data in bind.execute(stmt):
        for name in user_fields[definition_id]:
            user_id = ids.get((data or {}).get(name))
            if user_id is not None:
                rows.append({"item_id": item_id, "field": name, "user_id": user_id})
    for start in range(0, len(rows), 500):
        bind.execute(assignees.insert(), rows[start:start + 500])


def downgrade() -> None:
    op.execute("CREATE TABLE user_roles_0006 AS SELECT user_id, role FROM user_roles")
    op.drop_table("user_roles")
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )
    op.execute("INSERT INTO user_roles (user_id, role) SELECT DISTINCT user_id, role FROM user_roles_0006")
    op.drop_table("user_roles_0006")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint(op.f("fk_outbox_user_id_users"), type_="foreignkey")
        batch.drop_column("user_id")
    with op.batch_alter_table("items") as batch:
        batch.drop_index(op.f("ix_items_unit_id"))
        batch.drop_constraint(op.f("fk_items_unit_id_units"), type_="foreignkey")
        batch.drop_column("department")
        batch.drop_column("unit_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("fk_users_stand_in_id_users"), type_="foreignkey")
        batch.drop_column("stand_in_id")
        batch.drop_column("on_leave")
        batch.drop_column("must_change_password")
    for table in ("routing_versions", "access_log", "audit_log", "item_assignees", "residents", "units", "buildings"):
        op.drop_table(table)
