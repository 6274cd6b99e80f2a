"""The worker's heartbeat: worker_passes, one row per (host, worker name).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

`estateflow worker` updates its row after each completed pass; /healthz reads the newest
`last_pass_at` in every web process, so a stopped worker shows on every host's health check.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_pass_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("handled", sa.Integer(), nullable=False),
        sa.Column("tick_failed", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("send_failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_passes")),
        sa.UniqueConstraint("host", "name", name=op.f("uq_worker_passes_host_name")),
    )
    op.create_index(op.f("ix_worker_passes_last_pass_at"), "worker_passes", ["last_pass_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_worker_passes_last_pass_at"), table_name="worker_passes")
    op.drop_table("worker_passes")
