"""the dashboard: one-time sign-in links and sessions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_links",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("role_ids", sa.JSON(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_dashboard_links")),
    )
    op.create_index(op.f("ix_dashboard_links_expires_at"), "dashboard_links", ["expires_at"], unique=False)
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("link_nonce", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("role_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_nonce"], ["dashboard_links.nonce"], name=op.f("fk_dashboard_sessions_link_nonce_dashboard_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions")),
        sa.UniqueConstraint("link_nonce", name=op.f("uq_dashboard_sessions_link_nonce")),
    )
    op.create_index(op.f("ix_dashboard_sessions_actor_id"), "dashboard_sessions", ["actor_id"], unique=False)
    op.create_index(op.f("ix_dashboard_sessions_expires_at"), "dashboard_sessions", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dashboard_sessions_expires_at"), table_name="dashboard_sessions")
    op.drop_index(op.f("ix_dashboard_sessions_actor_id"), table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
    op.drop_index(op.f("ix_dashboard_links_expires_at"), table_name="dashboard_links")
    op.drop_table("dashboard_links")
