"""the moderators' calendar: scheduled and recurring polls and announcements, templates, versions

calendar_plans (what is planned: a poll later, a series of polls, a recurring announcement),
calendar_runs (one row per occurrence, claimed before posting: the once-per-occurrence rule),
poll_templates (saved polls by name), and on announcements: the other language's version, an
image and the time of the last edit after posting.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ANNOUNCEMENT_COLUMNS = ("versions", "image_name", "image_type", "image_data", "edited_at")


def upgrade() -> None:
    op.create_table(
        "calendar_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("recurrence", sa.String(length=100), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_plans")),
    )
    op.create_index(op.f("ix_calendar_plans_guild_id"), "calendar_plans", ["guild_id"])
    op.create_index(op.f("ix_calendar_plans_next_at"), "calendar_plans", ["next_at"])
    op.create_index(op.f("ix_calendar_plans_status"), "calendar_plans", ["status"])
    op.create_table(
        "calendar_runs",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=True),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["calendar_plans.id"], name=op.f("fk_calendar_runs_plan_id_calendar_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_calendar_runs_poll_id_polls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"], ["announcements.id"], name=op.f("fk_calendar_runs_announcement_id_announcements"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("plan_id", "occurrence_at", name=op.f("pk_calendar_runs")),
    )
    op.create_table(
        "poll_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_templates")),
        sa.UniqueConstraint("guild_id", "name", name=op.f("uq_poll_templates_guild_id_name")),
    )
    op.add_column("announcements", sa.Column("versions", sa.JSON(), nullable=False, server_default="{}"))
    op.add_column("announcements", sa.Column("image_name", sa.String(length=100), nullable=True))
    op.add_column("announcements", sa.Column("image_type", sa.String(length=40), nullable=True))
    op.add_column("announcements", sa.Column("image_data", sa.LargeBinary(), nullable=True))
    op.add_column("announcements", sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("announcements") as batch:
        for column in reversed(_ANNOUNCEMENT_COLUMNS):
            batch.drop_column(column)
    op.drop_table("poll_templates")
    op.drop_table("calendar_runs")
    op.drop_index(op.f("ix_calendar_plans_status"), table_name="calendar_plans")
    op.drop_index(op.f("ix_calendar_plans_next_at"), table_name="calendar_plans")
    op.drop_index(op.f("ix_calendar_plans_guild_id"), table_name="calendar_plans")
    op.drop_table("calendar_plans")
