"""Which entry of several transitions sharing a name fired (item_history.branch).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

`branch` is the index of the fired entry in its definition's `transitions` list, so the
timeline names the step that fired (项目主管审核通过, not the first entry of that name's
label). Rows written before stay null: the timeline falls back to the best match by name,
from state and to state.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("item_history") as batch:
        batch.add_column(sa.Column("branch", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item_history") as batch:
        batch.drop_column("branch")
