"""The initial schema: estates, users, published definitions, items, history, outbox, links.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Written out in full (not importing the models): a migration is a frozen snapshot.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _json() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when(name: str, nullable: bool = False) -> Any:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, target: str, table: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [target], name=f"fk_{table}_{column}_{target.split('.')[0]}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "estates",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), server_default="Asia/Shanghai", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_estates"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        _fk("user_id", "users.id", "user_roles", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "role", name="pk_user_roles"),
    )
    op.create_table(
        "user_estates",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        _fk("user_id", "users.id", "user_estates", "CASCADE"),
        _fk("estate_id", "estates.id", "user_estates", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "estate_id", name="pk_user_estates"),
    )
    op.create_table(
        "workflow_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(64), nullable=False),
        sa.Column("estate_id", sa.String(64), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("roles", _json(), nullable=False),
        _when("published_at"),
        sa.Column("published_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_versions"),
        sa.UniqueConstraint(
            "workflow_id", "estate_id", "version", name="uq_workflow_versions_workflow_id_estate_id_version"
        ),
    )
    op.create_table(
        "counters",
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("estate_id", "prefix", name="pk_counters"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("workflow_id", sa.String(64), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _when("state_entered_at"),
        _when("deadline_at", nullable=True),
        sa.Column("overdue", sa.Boolean(), server_default=sa.false(), nullable=False),
        _fk("estate_id", "estates.id", "items"),
        _fk("definition_id", "workflow_versions.id", "items"),
        _fk("created_by", "users.id", "items"),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.UniqueConstraint("estate_id", "number", name="uq_items_estate_id_number"),
    )
    op.create_index("ix_items_workflow_state", "items", ["workflow_id", "state"])
    op.create_index("ix_items_estate", "items", ["estate_id"])
    op.create_index("ix_items_deadline_at", "items", ["deadline_at"])
    op.create_index("ix_items_definition", "items", ["definition_id"])
    op.create_table(
        "item_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("transition", sa.String(64), nullable=True),
        sa.Column("event", sa.String(64), nullable=True),
        sa.Column("from_state", sa.String(64), nullable=True),
        sa.Column("to_state", sa.String(64), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=False),
        _when("at"),
        sa.Column("changes", _json(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _fk("item_id", "items.id", "item_history", "CASCADE"),
        _fk("actor_id", "users.id", "item_history"),
        sa.PrimaryKeyConstraint("id", name="pk_item_history"),
    )
    op.create_index("ix_item_history_item_id", "item_history", ["item_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        _when("created_at"),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _when("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _when("sent_at", nullable=True),
        _fk("item_id", "items.id", "outbox", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_item_id", "outbox", ["item_id"])
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "item_links",
        sa.Column("from_item_id", sa.Integer(), nullable=False),
        sa.Column("to_item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        _fk("from_item_id", "items.id", "item_links", "CASCADE"),
        _fk("to_item_id", "items.id", "item_links", "CASCADE"),
        sa.PrimaryKeyConstraint("from_item_id", "to_item_id", "kind", name="pk_item_links"),
    )


def downgrade() -> None:
    for table in (
        "item_links", "outbox", "item_history", "items", "counters", "workflow_versions",
        "user_estates", "user_roles", "users", "estates",
    ):
        op.drop_table(table)
