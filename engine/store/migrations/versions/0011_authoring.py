"""Authoring in the browser: the definitions folder in the database, drafts, publish comments.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

`definition_files` holds the text of every file of the definitions folder as published (by
`estateflow publish` or from the browser): numbered versions per path, the newest applies, a NULL
`text` marks a file removed. Web and worker processes read calendars (and the editor its files)
from here, never from a folder on their own host. `drafts` keeps an administrator's unpublished
edit of one file. `workflow_versions.comment` says why a version was published.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "definition_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("published_at", UTC, nullable=False),
        sa.Column("published_by", sa.String(100), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_definition_files")),
        sa.UniqueConstraint("path", "version", name=op.f("uq_definition_files_path_version")),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_by_name", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_drafts_updated_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
        sa.UniqueConstraint("path", name=op.f("uq_drafts_path")),
    )
    with op.batch_alter_table("workflow_versions") as batch:
        batch.add_column(sa.Column("comment", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_versions") as batch:
        batch.drop_column("comment")
    op.drop_table("drafts")
    op.drop_table("definition_files")
