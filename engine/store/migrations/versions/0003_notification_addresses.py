"""Where staff are notified: users.email and users.phone (both optional).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

The outbox senders look these up by role and estate (SMTP uses the email, an
SMS/WeChat gateway behind the webhook the phone). Nullable: a user without an
address simply does not receive that kind of notification.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot ALTER most things in place (a no-op wrapper on PostgreSQL).
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone")
        batch.drop_column("email")
