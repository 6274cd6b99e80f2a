"""Files attached to items (photos and documents), stored outside the database.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

One row per attached file; the bytes live in the file store (ESTATEFLOW_FILES_DIR), under
`storage_key`. Deleting an item deletes its rows; `estateflow check` then reports the files
left behind as orphaned. `erased_at`: the file was deleted on a resident's behalf (PIPL); the
row stays so the history still says a file was there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("history_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("thumbnail_key", sa.String(200), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", UTC, nullable=False),
        sa.Column("erased_at", UTC, nullable=True),  # PIPL erasure deleted the file; the row stays
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_attachments_item_id_items"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["history_id"], ["item_history.id"],
                                name=op.f("fk_attachments_history_id_item_history"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_attachments_uploaded_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_attachments_storage_key")),
    )
    op.create_index(op.f("ix_attachments_item_id"), "attachments", ["item_id"])
    op.create_index(op.f("ix_attachments_history_id"), "attachments", ["history_id"])
    op.create_index("ix_attachments_estate_id", "attachments", ["estate_id"])


def downgrade() -> None:
    op.drop_index("ix_attachments_estate_id", table_name="attachments")
    op.drop_index(op.f("ix_attachments_history_id"), table_name="attachments")
    op.drop_index(op.f("ix_attachments_item_id"), table_name="attachments")
    op.drop_table("attachments")
