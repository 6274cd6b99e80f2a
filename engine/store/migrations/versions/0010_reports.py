"""Reports: published report definitions, e-mailed reports in the outbox, indexes for periods.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

`report_versions` holds the published report definitions (workflows/reports/*.yaml, merged with an
estate's workflows/estates/<estate>/reports/*.yaml; estate '' is the base), like `routing_versions`.
An outbox row may now carry a file (`attachment_name`, `attachment`: the XLSX of `estateflow report
send`) and belong to no item (`item_id` null). The indexes let a report read the items created,
or that entered their state, in a period, and the open items of an estate, without reading the
whole store; `item_history.at` the
transitions fired in a period.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.String(64), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("document", JSONDoc, nullable=False),
        sa.Column("published_at", UTC, nullable=False),
        sa.Column("published_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_versions")),
        sa.UniqueConstraint("report_id", "estate_id", "version",
                            name=op.f("uq_report_versions_report_id_estate_id_version")),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("item_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("attachment_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("attachment", sa.LargeBinary(), nullable=True))
    op.create_index("ix_items_workflow_estate_created", "items", ["workflow_id", "estate_id", "created_at"])
    op.create_index("ix_items_workflow_estate_entered", "items", ["workflow_id", "estate_id", "state_entered_at"])
    op.create_index("ix_items_workflow_estate_state", "items", ["workflow_id", "estate_id", "state"])
    op.create_index("ix_item_history_at", "item_history", ["at"])


def downgrade() -> None:
    op.drop_index("ix_item_history_at", table_name="item_history")
    op.drop_index("ix_items_workflow_estate_state", table_name="items")
    op.drop_index("ix_items_workflow_estate_entered", table_name="items")
    op.drop_index("ix_items_workflow_estate_created", table_name="items")
    op.execute("DELETE FROM outbox WHERE item_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("attachment")
        batch.drop_column("attachment_name")
        batch.alter_column("item_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("report_versions")
