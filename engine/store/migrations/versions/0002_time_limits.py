"""Time limits: the item_deadlines table, and the pause bookkeeping on items.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Written out in full (not importing the models): a migration is a frozen snapshot.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rule_index", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("roles", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("fire", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_item_deadlines_item_id_items", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_item_deadlines"),
    )
    # tick reads the due rows through (status, due_at): its cost follows the rows due, not the items open.
    op.create_index("ix_item_deadlines_status_due", "item_deadlines", ["status", "due_at"])
    op.create_index("ix_item_deadlines_item_status", "item_deadlines", ["item_id", "status"])
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("paused_seconds", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("paused_from", sa.String(64), nullable=True))
        batch.add_column(sa.Column("paused_from_entered_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        for column in ("paused_from_entered_at", "paused_from", "paused_seconds", "paused_since"):
            batch.drop_column(column)
    op.drop_index("ix_item_deadlines_item_status", table_name="item_deadlines")
    op.drop_index("ix_item_deadlines_status_due", table_name="item_deadlines")
    op.drop_table("item_deadlines")
