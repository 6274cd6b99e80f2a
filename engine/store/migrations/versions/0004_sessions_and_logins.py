"""Login sessions kept on the server, and the login throttle's failure counts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

login_sessions: one row per login (engine/access/sessions.py), so logout, a password
change or disabling a user end sessions on every worker. login_failures and
login_address_failures: wrong passwords per (account, address) and per address
(engine/access/logins.py), shared by every worker and host.
Written out in full (not importing the models): a migration is a frozen snapshot.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_login_sessions_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_login_sessions"),
    )
    # Ending every session of a user, and pruning old ones, read through these.
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
    op.create_index("ix_login_sessions_created_at", "login_sessions", ["created_at"])
    op.create_table(
        "login_failures",
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "address", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_last_failure_at", "login_failures", ["last_failure_at"])
    op.create_table(
        "login_address_failures",
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_login_address_failures"),
    )
    op.create_index("ix_login_address_failures_window_start", "login_address_failures", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_login_address_failures_window_start", table_name="login_address_failures")
    op.drop_table("login_address_failures")
    op.drop_index("ix_login_failures_last_failure_at", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_login_sessions_created_at", table_name="login_sessions")
    op.drop_index("ix_login_sessions_user_id", table_name="login_sessions")
    op.drop_table("login_sessions")
