"""Messages to residents: consent and opt-out per phone, the SMS outbox.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Outbox rows may be a text message to a resident (`phone`, `template`; role and user_id null).
`resident_consents` keeps every recorded choice of a phone in an estate (the newest applies);
`messages_versions` the published resident-message catalogues, like `routing_versions`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("phone", sa.String(32), nullable=True))
        batch.add_column(sa.Column("template", sa.String(64), nullable=True))
    op.create_table(
        "resident_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_by_name", sa.String(200), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"], name=op.f("fk_resident_consents_recorded_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_consents")),
    )
    op.create_index("ix_resident_consents_estate_phone", "resident_consents", ["estate_id", "phone", "id"])
    op.create_table(
        "messages_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("document", JSONDoc, nullable=False),
        sa.Column("published_at", UTC, nullable=False),
        sa.Column("published_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages_versions")),
        sa.UniqueConstraint("estate_id", "version", name=op.f("uq_messages_versions_estate_id_version")),
    )


def downgrade() -> None:
    op.drop_table("messages_versions")
    op.drop_index("ix_resident_consents_estate_phone", table_name="resident_consents")
    op.drop_table("resident_consents")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("template")
        batch.drop_column("phone")
